/*
 * privdrop: see privdrop.h.  Every step is checked after it ran: a drop
 * is trusted only once the kernel reports it.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "privdrop.h"

static int
fail(char *errbuf, size_t errlen, const char *what)
{
	snprintf(errbuf, errlen, "dropping privileges: %s: %s", what,
	    errno != 0 ? strerror(errno) : "did not take");
	return SD_ERR_SYSTEM;
}

/* No capability in any set, as the kernel reports them. */
static int
no_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
		0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	return data[0].effective == 0 && data[0].permitted == 0 &&
	    data[0].inheritable == 0 && data[1].effective == 0 &&
	    data[1].permitted == 0 && data[1].inheritable == 0;
}

/* Check what the kernel says: uid and gid everywhere, no root group. */
static int
took(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[256];
	int i, n;

	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) != 0 || rg != gid ||
	    eg != gid || sg != gid)
		return 0;
	if ((n = getgroups(256, groups)) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == 0)
			return 0;
	errno = 0;
	return setuid(0) != 0 && no_capabilities(); /* no way back */
}

int
privdrop_to(
    const char *user, int has_group, gid_t group, char *errbuf, size_t errlen)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t gid;
	int cap;

	errno = 0;
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return fail(errbuf, errlen, "no such user");
	gid = has_group ? group : pw.pw_gid;
	if (initgroups(user, gid) != 0)
		return fail(errbuf, errlen, "initgroups");
	/* empty the bounding set while we still may (CAP_SETPCAP) */
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno != EINVAL)
			return fail(errbuf, errlen, "PR_CAPBSET_DROP");
	if (setresgid(gid, gid, gid) != 0)
		return fail(errbuf, errlen, "setresgid");
	if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0)
		return fail(errbuf, errlen, "setresuid");
	if (!took(pw.pw_uid, gid)) {
		errno = 0;
		return fail(errbuf, errlen, "the kernel's view");
	}
	/* changing uid resets the dumpable flag to fs.suid_dumpable: set
	 * it again, with no new privileges through exec */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail(errbuf, errlen, "prctl");
	log_info("running as %s (uid %u, gid %u), no capabilities", user,
	    (unsigned int)pw.pw_uid, (unsigned int)gid);
	return 0;
}

int
privdrop(const struct cfg *cfg, char *errbuf, size_t errlen)
{
	if (geteuid() != 0)
		return 0; /* run as the user who started it */
	if (!cfg->has_run_as) {
		log_warn("running as root: set run_as in the config so that "
			 "seald drops root after binding its sockets");
		return 0;
	}
	return privdrop_to(
	    cfg->run_user, cfg->has_run_group, cfg->run_gid, errbuf, errlen);
}
