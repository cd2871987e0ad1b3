/*
 * test_csr: PKCS#10 requests built by csr_build, signed through the
 * callback by a software key (standing in for the HSM), for EC P-256 and
 * P-384, RSA PKCS#1 v1.5 and RSA-PSS.  Each request is checked the way a
 * CA would: OpenSSL's verifier in process and the `openssl req -verify`
 * tool, the subject, exactly the requested critical extensions, and the
 * signature algorithm OpenSSL itself would write.  Subjects must parse to
 * the same DER as `openssl req -utf8 -subj` makes of them, and malformed
 * ones are refused with a reason.  Also: the callback's errors and bad
 * signatures (run under ASan for leaks), and a signature ending in 0x00.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "err.h"
#include "softkey.h"

/* '\' escapes '/', UTF-8, a long attribute name */
#define SUBJ                                         \
	"/C=BE/O=Ex\xc3\xa4mple \\/ "                \
	"Co/organizationIdentifier=VATBE-0123456789" \
	"/CN=Seal 2026"
#define SUBJ_TEXT                                                    \
	"C = BE, O = Ex\xc3\xa4mple / Co, organizationIdentifier = " \
	"VATBE-0123456789, CN = Seal 2026"
#define PEM_BEGIN "-----BEGIN CERTIFICATE REQUEST-----\n"
#define PEM_END "-----END CERTIFICATE REQUEST-----\n"

static const char *
openssl_bin(void)
{
	const char *p = getenv("OPENSSL");

	return p != NULL && *p != '\0' ? p : "openssl";
}

/*
 * Run argv (argv[0] looked up in PATH) with stdout and stderr into out
 * (cap bytes, NUL-terminated, the rest read and dropped); returns its exit
 * status, or -1 when it did not exit.
 */
static int
run_tool(char *const argv[], char *out, size_t cap)
{
	char junk[256];
	size_t n = 0;
	ssize_t k;
	pid_t pid;
	int fd[2], st;

	assert_int_equal(pipe(fd), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		if (dup2(fd[1], 1) < 0 || dup2(fd[1], 2) < 0)
			_exit(126);
		close(fd[0]);
		close(fd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while ((k = n < cap - 1 ? read(fd[0], out + n, cap - 1 - n)
				: read(fd[0], junk, sizeof(junk))) > 0)
		if (n < cap - 1)
			n += (size_t)k;
	close(fd[0]);
	out[n] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A new temporary file holding len bytes of data; its name in path. */
static void
temp_file(char *path, size_t cap, const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	assert_true((size_t)snprintf(path, cap, "%s/test_csr.XXXXXX",
			dir != NULL && *dir != '\0' ? dir : "/tmp") < cap);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static struct csr_req
req_of(struct soft *s, const char *subject, enum csr_usage usage, int md_nid)
{
	struct csr_req r;

	memset(&r, 0, sizeof(r));
	r.subject = subject;
	r.usage = usage;
	r.pub = X509_get0_pubkey(s->cert);
	r.md_nid = md_nid;
	r.scheme = s->scheme;
	r.sign = soft_sign;
	r.arg = s;
	return r;
}

/* The DER inside pem (caller frees with OPENSSL_free). */
static unsigned char *
pem_der(const char *pem, long *len)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;

	assert_non_null(b);
	assert_int_equal(PEM_read_bio(b, &name, &header, &der, len), 1);
	assert_string_equal(name, PEM_STRING_X509_REQ);
	assert_string_equal(header, "");
	OPENSSL_free(name);
	OPENSSL_free(header);
	BIO_free(b);
	return der;
}

static void
check_name_text(const X509_NAME *n, const char *want)
{
	const unsigned long fl = XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB;
	BIO *b = BIO_new(BIO_s_mem());
	char buf[512];
	int len;

	assert_non_null(b);
	assert_true(X509_NAME_print_ex(b, n, 0, fl) > 0);
	assert_true((len = BIO_read(b, buf, sizeof(buf) - 1)) > 0);
	buf[len] = '\0';
	assert_string_equal(buf, want);
	BIO_free(b);
}

/* Exactly the extensions usage asks for, critical, in the DER minimal
 * form, in the only attribute. */
static void
check_exts(X509_REQ *req, enum csr_usage usage)
{
	static const uint8_t ku_seal[] = { 0x03, 0x02, 0x06, 0xc0 };
	static const uint8_t ku_tsa[] = { 0x03, 0x02, 0x07, 0x80 };
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	const ASN1_OCTET_STRING *v;
	EXTENDED_KEY_USAGE *eku;
	X509_EXTENSION *e;

	assert_int_equal(X509_REQ_get_attr_count(req), 1);
	assert_int_equal(X509_REQ_get_attr_by_NID(req, NID_ext_req, -1), 0);
	assert_non_null(exts);
	assert_int_equal(
	    sk_X509_EXTENSION_num(exts), usage == CSR_USAGE_TSA ? 2 : 1);
	e = sk_X509_EXTENSION_value(exts, 0);
	assert_int_equal(
	    OBJ_obj2nid(X509_EXTENSION_get_object(e)), NID_key_usage);
	assert_int_equal(X509_EXTENSION_get_critical(e), 1);
	v = X509_EXTENSION_get_data(e);
	/* SEAL digitalSignature + nonRepudiation, TSA digitalSignature */
	assert_int_equal(v->length, 4);
	assert_memory_equal(
	    v->data, usage == CSR_USAGE_TSA ? ku_tsa : ku_seal, 4);
	if (usage == CSR_USAGE_TSA) {
		e = sk_X509_EXTENSION_value(exts, 1);
		assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(e)),
		    NID_ext_key_usage);
		assert_int_equal(X509_EXTENSION_get_critical(e), 1);
		assert_non_null(eku = X509V3_EXT_d2i(e));
		assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
		assert_int_equal(
		    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
		EXTENDED_KEY_USAGE_free(eku);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

/*
 * The signature algorithm is the one OpenSSL writes when it signs the
 * same request with the private key itself; for deterministic PKCS#1
 * v1.5 the whole request is byte for byte the same.
 */
static void
check_alg(X509_REQ *req, struct soft *s, int md_nid, const unsigned char *der,
    long len)
{
	X509_REQ *ref = X509_REQ_dup(req);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	const X509_ALGOR *ours, *theirs;
	const ASN1_OBJECT *obj;
	EVP_PKEY_CTX *pctx;
	unsigned char *rder = NULL;
	int ptype, sig_nid = NID_undef;

	assert_non_null(ref);
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, md, NULL, s->key), 1);
	if (s->scheme == CMS_SCHEME_PSS) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(
				pctx, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(
				pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0);
	}
	assert_true(X509_REQ_sign_ctx(ref, mctx) > 0);
	X509_REQ_get0_signature(req, NULL, &ours);
	X509_REQ_get0_signature(ref, NULL, &theirs);
	assert_int_equal(X509_ALGOR_cmp(ours, theirs), 0);
	X509_ALGOR_get0(&obj, &ptype, NULL, ours);
	if (s->scheme == CMS_SCHEME_ECDSA) {
		assert_int_equal(OBJ_find_sigid_by_algs(&sig_nid, md_nid,
				     NID_X9_62_id_ecPublicKey),
		    1);
		assert_int_equal(ptype, V_ASN1_UNDEF); /* absent */
	} else if (s->scheme == CMS_SCHEME_PKCS1) {
		assert_int_equal(
		    OBJ_find_sigid_by_algs(&sig_nid, md_nid, NID_rsaEncryption),
		    1);
		assert_int_equal(ptype, V_ASN1_NULL);
		assert_int_equal(i2d_X509_REQ(ref, &rder), (int)len);
		assert_memory_equal(rder, der, (size_t)len);
		OPENSSL_free(rder);
	} else {
		sig_nid = NID_rsassaPss;
		assert_int_equal(ptype, V_ASN1_SEQUENCE);
	}
	assert_int_equal(OBJ_obj2nid(obj), sig_nid);
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(ref);
}

/* `openssl req -verify` on a file of fmt ("PEM" or "DER"): its exit
 * status, with the subject it read (oneline) in out. */
static int
tool_verify(
    const void *data, size_t len, const char *fmt, char *out, size_t cap)
{
	char path[256];
	char *const argv[] = { (char *)openssl_bin(), "req", "-inform",
		(char *)fmt, "-in", path, "-noout", "-verify", "-subject",
		"-nameopt", "oneline,-esc_msb", NULL };
	int st;

	temp_file(path, sizeof(path), data, len);
	st = run_tool(argv, out, cap);
	assert_int_equal(unlink(path), 0);
	return st;
}

static void
one_key(const char *type, const char *param, size_t bits,
    enum cms_scheme scheme, int md_nid, enum csr_usage usage)
{
	struct soft s;
	struct csr_req r;
	X509_REQ *req;
	const unsigned char *p;
	unsigned char *der;
	uint8_t hash[32], want[32];
	char errbuf[256] = "x", out[4096], *pem = NULL;
	long len;
	size_t plen;

	make_soft(&s, type, param, bits, scheme, NULL);
	r = req_of(&s, SUBJ, usage, md_nid);
	assert_int_equal(csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(errbuf, "");
	assert_int_equal(s.calls, 1);
	assert_non_null(pem);
	plen = strlen(pem);
	assert_true(plen < SD_CSR_PEM_MAX);
	assert_memory_equal(pem, PEM_BEGIN, strlen(PEM_BEGIN));
	assert_string_equal(pem + plen - strlen(PEM_END), PEM_END);

	der = pem_der(pem, &len);
	assert_int_equal(
	    EVP_Digest(der, (size_t)len, want, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(hash, want, 32);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, len));
	assert_int_equal(X509_REQ_verify(req, s.key), 1);
	assert_int_equal(X509_REQ_get_version(req), X509_REQ_VERSION_1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), s.key), 1);
	check_name_text(X509_REQ_get_subject_name(req), SUBJ_TEXT);
	check_exts(req, usage);
	check_alg(req, &s, md_nid, der, len);

	/* and the tool a CA operator would run */
	assert_int_equal(tool_verify(pem, plen, "PEM", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "verify OK"));
	assert_non_null(strstr(out, "subject=" SUBJ_TEXT "\n"));

	X509_REQ_free(req);
	OPENSSL_free(der);
	free(pem);
	free_soft(&s);
}

static void
test_ecdsa_p256(void **state)
{
	(void)state;
	one_key("EC", "P-256", 0, CMS_SCHEME_ECDSA, NID_sha256, CSR_USAGE_SEAL);
	one_key("EC", "P-256", 0, CMS_SCHEME_ECDSA, NID_sha256, CSR_USAGE_TSA);
}

static void
test_ecdsa_p384(void **state)
{
	(void)state;
	one_key("EC", "P-384", 0, CMS_SCHEME_ECDSA, NID_sha384, CSR_USAGE_SEAL);
	one_key("EC", "P-384", 0, CMS_SCHEME_ECDSA, NID_sha512, CSR_USAGE_TSA);
}

static void
test_rsa_pkcs1(void **state)
{
	(void)state;
	one_key(
	    "RSA", NULL, 2048, CMS_SCHEME_PKCS1, NID_sha256, CSR_USAGE_SEAL);
	one_key("RSA", NULL, 2048, CMS_SCHEME_PKCS1, NID_sha384, CSR_USAGE_TSA);
}

static void
test_rsa_pss(void **state)
{
	(void)state;
	one_key("RSA", NULL, 2048, CMS_SCHEME_PSS, NID_sha256, CSR_USAGE_SEAL);
	one_key("RSA", NULL, 2048, CMS_SCHEME_PSS, NID_sha512, CSR_USAGE_TSA);
}

/*
 * A request whose signature was changed after signing is refused by the
 * tool too: the tool check above can fail.  `openssl req -verify` says so
 * but exits 0 before OpenSSL 3.4 (openssl#23771), hence the text.
 */
static void
test_tool_refuses_tampered(void **state)
{
	struct soft s;
	struct csr_req r;
	unsigned char *der;
	uint8_t hash[32];
	char errbuf[256], out[4096], *pem = NULL;
	long len;

	(void)state;
	make_soft(&s, "RSA", NULL, 2048, CMS_SCHEME_PKCS1, NULL);
	r = req_of(&s, "/CN=tampered", CSR_USAGE_SEAL, NID_sha256);
	assert_int_equal(csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), 0);
	der = pem_der(pem, &len);
	assert_int_equal(
	    tool_verify(der, (size_t)len, "DER", out, sizeof(out)), 0);
	der[len - 10] ^= 0x01; /* inside the RSA signature, the last field */
	(void)tool_verify(der, (size_t)len, "DER", out, sizeof(out));
	assert_non_null(strstr(out, "verify failure"));
	assert_null(strstr(out, "verify OK"));
	OPENSSL_free(der);
	free(pem);
	free_soft(&s);
}

/* What `openssl req -new -utf8 -subj s` makes of s, as DER. */
static int
openssl_subject(const char *keyfile, const char *s, unsigned char **der)
{
	char path[256], out[4096];
	char *const argv[] = { (char *)openssl_bin(), "req", "-new", "-key",
		(char *)keyfile, "-utf8", "-subj", (char *)s, "-outform", "DER",
		"-out", path, NULL };
	unsigned char *buf;
	const unsigned char *p;
	X509_REQ *req;
	FILE *f;
	long len;
	int n;

	temp_file(path, sizeof(path), "", 0);
	if (run_tool(argv, out, sizeof(out)) != 0)
		fail_msg("openssl req -subj %s: %s", s, out);
	assert_non_null(f = fopen(path, "rb"));
	assert_non_null(buf = malloc(SD_CSR_PEM_MAX));
	assert_true((len = (long)fread(buf, 1, SD_CSR_PEM_MAX, f)) > 0);
	fclose(f);
	assert_int_equal(unlink(path), 0);
	p = buf;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, len));
	*der = NULL;
	n = i2d_X509_NAME(X509_REQ_get_subject_name(req), der);
	X509_REQ_free(req);
	free(buf);
	return n;
}

static void
test_subject_as_openssl(void **state)
{
	static const char *const subjects[] = {
		SUBJ,
		"/C=BE/O=Example/CN=Seal 2026",
		"/CN=a\\/b/O=x\\\\y\\=z/OU=1\\+1",
		"/commonName=long names/organizationName=Example",
		"/DC=example/DC=com/emailAddress=seal@example.com",
		"/serialNumber=0042/GN=Ann/SN=Lee/title=Dr",
		"/O=\xe6\x97\xa5\xe6\x9c\xac \xc4\xa6 \xf0\x9f\x94\x8f/L=Gent",
	};
	struct soft s;
	X509_NAME *name;
	unsigned char *ours, *theirs;
	char keyfile[256], errbuf[256];
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *bm;
	size_t i;
	int n;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	assert_non_null(b);
	assert_int_equal(
	    PEM_write_bio_PrivateKey(b, s.key, NULL, NULL, 0, NULL, NULL), 1);
	BIO_get_mem_ptr(b, &bm);
	temp_file(keyfile, sizeof(keyfile), bm->data, bm->length);
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		if (csr_subject_parse(
			subjects[i], &name, errbuf, sizeof(errbuf)) != 0)
			fail_msg("%s: %s", subjects[i], errbuf);
		ours = NULL;
		assert_true((n = i2d_X509_NAME(name, &ours)) > 0);
		if (openssl_subject(keyfile, subjects[i], &theirs) != n ||
		    memcmp(ours, theirs, (size_t)n) != 0)
			fail_msg(
			    "%s: not the DER openssl req makes", subjects[i]);
		OPENSSL_free(ours);
		OPENSSL_free(theirs);
		X509_NAME_free(name);
	}
	/* DirectoryString attributes are UTF8String (RFC 5280 4.1.2.6) */
	assert_int_equal(
	    csr_subject_parse(subjects[1], &name, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(
			     X509_NAME_get_entry(name, 2))),
	    V_ASN1_UTF8STRING);
	assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(
			     X509_NAME_get_entry(name, 0))),
	    V_ASN1_PRINTABLESTRING);
	X509_NAME_free(name);
	assert_int_equal(unlink(keyfile), 0);
	BIO_free(b);
	free_soft(&s);
}

/* n bytes of subject made of "/OU=xxx" pairs, in buf (cap > n). */
static void
long_subject(char *buf, size_t cap, size_t n, size_t pairs)
{
	size_t i, off = 0, each = n / pairs;

	assert_true(n < cap && each >= 5);
	for (i = 0; i < pairs; i++) {
		size_t vlen = (i == pairs - 1 ? n - off : each) - 4;

		memcpy(buf + off, "/OU=", 4);
		memset(buf + off + 4, 'a' + (int)i, vlen);
		off += 4 + vlen;
	}
	buf[off] = '\0';
	assert_int_equal(strlen(buf), n);
}

static void
refused(const char *s, const char *reason)
{
	X509_NAME *name = (X509_NAME *)1;
	char errbuf[256] = "";

	if (csr_subject_parse(s, &name, errbuf, sizeof(errbuf)) != -1)
		fail_msg("accepted: %.60s", s != NULL ? s : "(null)");
	assert_null(name);
	if (strstr(errbuf, reason) == NULL)
		fail_msg("%.60s: reason \"%s\" lacks \"%s\"",
		    s != NULL ? s : "(null)", errbuf, reason);
}

static void
test_subject_refused(void **state)
{
	char buf[SD_CSR_SUBJECT_MAX + 64];
	X509_NAME *name;
	char errbuf[256];
	size_t i, off;

	(void)state;
	refused(NULL, "empty");
	refused("", "empty");
	refused("CN=x", "start with '/'");
	refused(" /CN=x", "start with '/'");
	refused("/FOO=x", "unknown attribute type 'FOO'");
	refused("/sha256=x", "unknown attribute type");
	refused("/2.5.4.3=x", "unknown attribute type");
	refused("/CN=", "empty value");
	refused("/CN=x/O=", "empty value");
	refused("/CN", "no '='");
	refused("/=x", "empty attribute type");
	refused("/CN=x/", "empty attribute type");
	refused("/CN=x//O=y", "empty attribute type");
	refused("/CN=a\tb", "control character");
	refused("/CN=a\x7f", "control character");
	refused("/CN=a\xc2\x85", "control character"); /* NEL, a C1 control */
	refused("/CN=\xff", "invalid UTF-8");
	refused("/CN=\xc0\xaf", "invalid UTF-8");     /* overlong '/' */
	refused("/CN=\xed\xa0\x80", "invalid UTF-8"); /* a surrogate */
	refused("/CN=\xc3", "invalid UTF-8");         /* cut short */
	refused("/CN=a=b", "must be escaped");
	refused("/CN=a+b", "must be escaped"); /* openssl: multi-valued */
	refused("/CN=a\\q", "escapes none");
	refused("/CN=a\\", "escapes none");
	refused("/C=BEL", "value not allowed for C");
	refused("/C=B\xc3\xa9", "value not allowed for C");
	/* over ub-common-name, 64 */
	long_subject(buf, sizeof(buf), 4 + 65, 1);
	buf[2] = 'N';
	buf[1] = 'C';
	refused(buf, "value not allowed for CN");

	/* 512 bytes and 16 attributes are fine, one more of either is not */
	long_subject(buf, sizeof(buf), SD_CSR_SUBJECT_MAX, 8);
	assert_int_equal(
	    csr_subject_parse(buf, &name, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(X509_NAME_entry_count(name), 8);
	X509_NAME_free(name);
	long_subject(buf, sizeof(buf), SD_CSR_SUBJECT_MAX + 1, 9);
	refused(buf, "longer than 512 bytes");
	for (i = 0, off = 0; i < SD_CSR_SUBJECT_ATTRS_MAX + 1; i++)
		off += (size_t)snprintf(
		    buf + off, sizeof(buf) - off, "/DC=d%zu", i);
	refused(buf, "more than 16 attributes");
	buf[off - strlen("/DC=d16")] = '\0';
	assert_int_equal(
	    csr_subject_parse(buf, &name, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(X509_NAME_entry_count(name), SD_CSR_SUBJECT_ATTRS_MAX);
	X509_NAME_free(name);
}

/* A bad subject reaches csr_build as SD_ERR_BAD_REQUEST, never signed. */
static void
test_build_bad_subject(void **state)
{
	struct soft s;
	struct csr_req r;
	uint8_t hash[32];
	char errbuf[256], *pem = (char *)1;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	r = req_of(&s, "/CN=x/FOO=y", CSR_USAGE_SEAL, NID_sha256);
	assert_int_equal(csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)),
	    SD_ERR_BAD_REQUEST);
	assert_null(pem);
	assert_non_null(strstr(errbuf, "FOO"));
	assert_int_equal(s.calls, 0);
	free_soft(&s);
}

/* Keys, schemes, hashes and usages seald does not pair: never signed. */
static void
test_pairing_refused(void **state)
{
	struct soft ec, rsa;
	struct csr_req r;
	uint8_t hash[32];
	char errbuf[256], *pem = NULL;

	(void)state;
	make_soft(&ec, "EC", "P-256", 0, CMS_SCHEME_PKCS1, NULL);
	make_soft(&rsa, "RSA", NULL, 2048, CMS_SCHEME_ECDSA, NULL);
	r = req_of(&ec, "/CN=x", CSR_USAGE_SEAL, NID_sha256);
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_non_null(strstr(errbuf, "does not fit a EC key"));
	r = req_of(&rsa, "/CN=x", CSR_USAGE_SEAL, NID_sha256);
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	ec.scheme = CMS_SCHEME_ECDSA;
	r = req_of(&ec, "/CN=x", CSR_USAGE_SEAL, NID_sha1);
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	r = req_of(&ec, "/CN=x", (enum csr_usage)3, NID_sha256);
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_null(pem);
	assert_int_equal(ec.calls + rsa.calls, 0);
	free_soft(&ec);
	free_soft(&rsa);
}

/* The callback's error comes back unchanged, with nothing allocated
 * (the ASan build checks for leaks). */
static void
test_sign_fails(void **state)
{
	static const int codes[] = { SD_ERR_HSM, SD_ERR_TIMEOUT, SD_ERR_BUSY };
	struct soft s;
	struct csr_req r;
	uint8_t hash[32];
	char errbuf[256], *pem = (char *)1;
	size_t i;

	(void)state;
	make_soft(&s, "RSA", NULL, 2048, CMS_SCHEME_PSS, NULL);
	r = req_of(&s, SUBJ, CSR_USAGE_TSA, NID_sha384);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		s.fail = codes[i];
		assert_int_equal(
		    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)),
		    codes[i]);
		assert_null(pem);
		assert_non_null(strstr(errbuf, sd_err(codes[i])));
	}
	assert_int_equal(s.calls, 3);
	free_soft(&s);
}

/* A signer that misbehaves: how, and how often it was called. */
struct bad {
	struct soft *s;
	enum { PLAIN, FLIP, TOO_LONG, EMPTY, END_ZERO } how;
	long calls;
};

static int
bad_sign(void *arg, const uint8_t *dg, size_t dglen, uint8_t *sig, size_t cap,
    size_t *siglen)
{
	struct bad *b = arg;
	int r;

	/* END_ZERO: ECDSA is randomised, so ask until a signature ends in
	 * 0x00 (1 in 256) */
	do {
		b->calls++;
		if ((r = soft_sign(b->s, dg, dglen, sig, cap, siglen)) != 0)
			return r;
	} while (
	    b->how == END_ZERO && sig[*siglen - 1] != 0 && b->calls < 100000);
	if (b->how == FLIP)
		sig[*siglen / 2] ^= 0x40;
	else if (b->how == TOO_LONG)
		*siglen = cap + 1;
	else if (b->how == EMPTY)
		*siglen = 0;
	return 0;
}

/* A signature that does not verify never leaves csr_build. */
static void
test_bad_signature(void **state)
{
	struct soft ec, rsa;
	struct bad b;
	struct csr_req r;
	uint8_t hash[32];
	char errbuf[256], *pem = (char *)1;

	(void)state;
	make_soft(&ec, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	make_soft(&rsa, "RSA", NULL, 2048, CMS_SCHEME_PSS, NULL);
	memset(&b, 0, sizeof(b));
	b.s = &rsa;
	b.how = FLIP;
	r = req_of(&rsa, "/CN=x", CSR_USAGE_SEAL, NID_sha256);
	r.sign = bad_sign;
	r.arg = &b;
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_null(pem);
	assert_non_null(strstr(errbuf, "does not verify"));
	b.s = &ec;
	r = req_of(&ec, "/CN=x", CSR_USAGE_SEAL, NID_sha256);
	r.sign = bad_sign;
	r.arg = &b;
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_null(pem);
	/* the scheme says PSS, the key signs PKCS#1 */
	b.how = PLAIN;
	b.s = &rsa;
	rsa.scheme = CMS_SCHEME_PKCS1;
	r = req_of(&rsa, "/CN=x", CSR_USAGE_SEAL, NID_sha256);
	r.scheme = CMS_SCHEME_PSS;
	r.sign = bad_sign;
	r.arg = &b;
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_non_null(strstr(errbuf, "does not verify"));
	b.how = TOO_LONG;
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_non_null(strstr(errbuf, "returned"));
	b.how = EMPTY;
	assert_int_equal(
	    csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), SD_ERR_INTERNAL);
	assert_null(pem);
	free_soft(&ec);
	free_soft(&rsa);
}

/*
 * OpenSSL encodes a BIT STRING as named bits unless told otherwise,
 * dropping trailing zero bytes (and marking trailing zero bits unused):
 * a signature ending in 0x00 must still be written whole.
 */
static void
test_signature_ending_in_zero(void **state)
{
	struct soft s;
	struct bad b;
	struct csr_req r;
	const ASN1_BIT_STRING *sig;
	const unsigned char *p;
	unsigned char *der;
	X509_REQ *req;
	uint8_t hash[32];
	char errbuf[256], *pem = NULL;
	long len;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	memset(&b, 0, sizeof(b));
	b.s = &s;
	b.how = END_ZERO;
	r = req_of(&s, "/CN=zero", CSR_USAGE_SEAL, NID_sha256);
	r.sign = bad_sign;
	r.arg = &b;
	assert_int_equal(csr_build(&r, &pem, hash, errbuf, sizeof(errbuf)), 0);
	assert_true(b.calls < 100000);
	der = pem_der(pem, &len);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, len));
	X509_REQ_get0_signature(req, &sig, NULL);
	assert_int_equal(ASN1_STRING_get0_data(sig)[sig->length - 1], 0);
	assert_int_equal(X509_REQ_verify(req, s.key), 1);
	X509_REQ_free(req);
	OPENSSL_free(der);
	free(pem);
	free_soft(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa_p256),
		cmocka_unit_test(test_ecdsa_p384),
		cmocka_unit_test(test_rsa_pkcs1),
		cmocka_unit_test(test_rsa_pss),
		cmocka_unit_test(test_tool_refuses_tampered),
		cmocka_unit_test(test_subject_as_openssl),
		cmocka_unit_test(test_subject_refused),
		cmocka_unit_test(test_build_bad_subject),
		cmocka_unit_test(test_pairing_refused),
		cmocka_unit_test(test_sign_fails),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_signature_ending_in_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
