/*
 * limits: every cap on outside bytes and every fixed size in seald, in one
 * place, so that a reviewer can see all bounds at a glance.
 */
#ifndef SD_LIMITS_H
#define SD_LIMITS_H

/* config files */
#define SD_CONFIG_MAX_BYTES (256 * 1024) /* a config file larger is refused */
#define SD_CONFIG_MAX_DEPTH 8            /* YAML nesting */
#define SD_NAME_MAX 64                   /* key, client, instance names */
#define SD_LABEL_MAX 128                 /* PKCS#11 labels */
#define SD_P11URI_MAX 1024               /* RFC 7512 pkcs11: URIs */
#define SD_KEY_ID_MAX 256                /* PKCS#11 CKA_ID bytes kept */
#define SD_PATH_MAX 4096
#define SD_MODULE_DIRS_MAX 8 /* pkcs11.module_dirs */
#define SD_CONNINFO_MAX 1024
#define SD_MAX_KEYS 64
#define SD_MAX_CLIENTS 256
#define SD_MAX_IDS 64                 /* uids/gids per client entry */
#define SD_PIN_MAX 256                /* bytes in the PIN file */
#define SD_CERT_MAX_BYTES (64 * 1024) /* a certificate (chain) file */

/* policy (policy.yaml): SD_MAX_KEYS, SD_MAX_CLIENTS, SD_MAX_IDS above too */
#define SD_MAX_RULES 16                /* allow rules per client */
#define SD_MAX_EVIDENCE_TYPES 16       /* evidence types per rule */
#define SD_MAX_OFFICERS 64             /* officers, and auditors */
#define SD_RATE_MAX_PER_SECOND 1000000 /* rate.per_second */
#define SD_RATE_MAX_BURST 1000000      /* rate.burst */
#define SD_QUOTA_MAX 1000000000000ULL  /* daily_quota: signatures a day */
#define SD_POLICY_DESCRIBE_MAX 8192    /* bytes of one policy_describe line */
#define SD_RATELIMIT_MAX_ENTRIES (SD_MAX_CLIENTS * 4) /* client names kept */
#define SD_RATELIMIT_IDLE_SECONDS 86400 /* an entry is evictable after */

/* HTTP front */
#define SD_HTTP_MAX_BODY_DEFAULT (64 * 1024)
#define SD_HTTP_MAX_HEADER_DEFAULT (8 * 1024)
#define SD_HTTP_TIMEOUT_DEFAULT 10 /* seconds idle per connection */
#define SD_HTTP_MAX_CONN_DEFAULT 1024
#define SD_HTTP_CONN_PER_UID_DEFAULT 128 /* connections one uid may hold */
#define SD_HTTP_HEAD_SECONDS_DEFAULT 10  /* a request head, whole */
#define SD_HTTP_BODY_SECONDS_DEFAULT 30  /* a request body, whole */
#define SD_LOG_LIMIT_EVERY_MS 10000      /* a tripped limit: a line each */
#define SD_ADMIN_CONNECTIONS 16 /* connections the admin socket serves */
/* files seald keeps open besides clients and per-session database
 * connections: HSM, writer and reader connections, sockets, logs */
#define SD_FILES_RESERVE 64
#define SD_HTTP_MAX_BODY_LIMIT (16 * 1024 * 1024) /* config may not exceed */
#define SD_STOP_WAIT_MS 10000 /* shutdown: wait for replies in flight */
#define SD_HTTP_DISCARD_MAX (4 * 1024 * 1024) /* read and drop past the limit */

/* ranges of other settings in seald.yaml */
#define CFG_BODY_MIN 256
#define CFG_HEADER_MIN 1024
#define CFG_HEADER_MAX (1024 * 1024)
#define CFG_TIMEOUT_MAX 3600
#define CFG_CONN_MAX 65536
#define CFG_VERSION_MAX 1000000
#define CFG_TOKEN_LABEL_MAX 32 /* CK_TOKEN_INFO.label is 32 bytes */

/* sign requests */
#define SD_REQUEST_ID_MAX 128
#define SD_EVIDENCE_TYPE_MAX 64
#define SD_EVIDENCE_REF_MAX 256
#define SD_DIGEST_MAX 64 /* SHA-512 */
#define SD_SIG_MAX 1024  /* RSA-4096 = 512, ECDSA DER < 140 */
/* What a client receives and the ledger keeps: a signature, or a CMS
 * SignedData with the key's certificates (at most SD_SEAL_CERTS_MAX bytes
 * of DER, checked when the policy is loaded). */
#define SD_SEAL_MAX 16384
#define SD_SEAL_CERTS_MAX 12288

/* RFC 3161 */
#define SD_OID_MAX 96          /* dotted text of a policy OID, with NUL */
#define SD_TSA_SERIAL_MAX 20   /* serial numbers (RFC 5280 bound) */
#define SD_TSA_NONCE_MAX 64    /* DER of a request's nonce INTEGER */
#define SD_TSA_IMPRINT_MAX 128 /* DER of a request's MessageImprint */
#define SD_JSON_MAX_DEPTH 4

/* HSM */
#define SD_HSM_SESSIONS_DEFAULT 4
#define SD_HSM_SESSIONS_MAX 64

/* ledger */
#define SD_LEDGER_BATCH_MAX 256    /* entries per commit */
#define SD_LEDGER_QUEUE_MAX 4096   /* entries waiting for commit */
#define SD_BATCH_WAIT_MS_DEFAULT 3 /* group commit: wait for signatures */
/* database.commit_timeout_ms: a commit's own deadline */
#define SD_COMMIT_MS_DEFAULT 5000
/* pkcs11.init_args: C_Initialize's pReserved string, bytes with its NUL */
#define SD_INIT_ARGS_MAX 1024
#define SD_COMMIT_MS_MIN 100
#define SD_COMMIT_MS_MAX 60000
#define SD_BATCH_WAIT_MS_MAX 100
#define SD_LEDGER_PAGE_DEFAULT 100 /* GET /v1/ledger/{instance} entries */
#define SD_LEDGER_PAGE_MAX 500     /* ... and at most, with ?limit= */
#define SD_SIGN_QUEUE_MAX 4096     /* requests waiting for a worker */
#define SD_SIGN_QUEUE_WAIT_MS 5000 /* longest wait for a worker */
#define SD_LOOKUP_CONNS_MAX 8      /* the workers' lookup connections, shared */
#define SD_CHECKPOINT_EVERY_DEFAULT 1000
#define SD_CHECKPOINT_SECONDS_DEFAULT 60
#define SD_NOTE_MAX 2048             /* a signed head's text (ledger_note.c) */
#define SD_VERIFY_RATE_DEFAULT 20000 /* ledger.verify_rate, entries/s */
#define SD_VERIFY_RATE_MAX 10000000
#define SD_DETAIL_MAX 256 /* ledger policy entries: what happened */
#define SD_STR_(x) #x
#define SD_CSR_SUBJECT_MAX 512 /* bytes of a CSR subject, without the NUL */
#define SD_CSR_SUBJECT_ATTRS_MAX 16 /* TYPE=VALUE pairs in a subject */
#define SD_CSR_PEM_MAX (16 * 1024)  /* bytes of a CSR's PEM, NUL included */
#define SD_XSTR(x) SD_STR_(x)       /* a limit as a string literal */
#define SD_HASH_LEN 32              /* SHA-256 */

#endif
