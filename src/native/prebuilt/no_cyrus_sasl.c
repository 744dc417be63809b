/* The prebuilt addon (CDC_STATIC_DEPS=ON) is linked without Cyrus SASL: Debian's libsasl2.a is not
 * position-independent and carries its GSSAPI plugin, which would need Kerberos' shared libraries.
 * librdkafka uses Cyrus SASL for sasl.mechanisms=GSSAPI only (PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER are
 * built into librdkafka), so these stand-ins make GSSAPI fail with a message saying so, and everything
 * else works. A source build (npm install --build-from-source) links the system's libsasl2 instead. */
#include <sasl/sasl.h>

static const char no_gssapi[] =
    "GSSAPI (Kerberos) is not included in the prebuilt cdc-cache addon; install with "
    "npm install cdc-cache --build-from-source (needs libsasl2-dev and libsasl2-modules-gssapi-mit)";

int sasl_client_init(const sasl_callback_t *callbacks) {
  (void)callbacks;
  return SASL_OK; /* librdkafka calls this once at start, for every mechanism */
}

int sasl_client_new(const char *service, const char *server_fqdn, const char *iplocalport,
                    const char *ipremoteport, const sasl_callback_t *prompt_supp, unsigned flags,
                    sasl_conn_t **pconn) {
  (void)service, (void)server_fqdn, (void)iplocalport, (void)ipremoteport, (void)prompt_supp, (void)flags;
  *pconn = NULL;
  return SASL_NOMECH;
}

int sasl_client_start(sasl_conn_t *conn, const char *mechlist, sasl_interact_t **prompt_need,
                      const char **clientout, unsigned *clientoutlen, const char **mech) {
  (void)conn, (void)mechlist, (void)prompt_need, (void)clientout, (void)clientoutlen, (void)mech;
  return SASL_NOMECH;
}

int sasl_client_step(sasl_conn_t *conn, const char *serverin, unsigned serverinlen,
                     sasl_interact_t **prompt_need, const char **clientout, unsigned *clientoutlen) {
  (void)conn, (void)serverin, (void)serverinlen, (void)prompt_need, (void)clientout, (void)clientoutlen;
  return SASL_NOMECH;
}

void sasl_dispose(sasl_conn_t **pconn) {
  if (pconn) *pconn = NULL;
}

const char *sasl_errstring(int saslerr, const char *langlist, const char **outlang) {
  (void)saslerr, (void)langlist;
  if (outlang) *outlang = "en-us";
  return no_gssapi;
}

const char *sasl_errdetail(sasl_conn_t *conn) {
  (void)conn;
  return no_gssapi;
}

int sasl_getprop(sasl_conn_t *conn, int propnum, const void **pvalue) {
  (void)conn, (void)propnum;
  if (pvalue) *pvalue = NULL;
  return SASL_NOMECH;
}

int sasl_listmech(sasl_conn_t *conn, const char *user, const char *prefix, const char *sep,
                  const char *suffix, const char **result, unsigned *plen, int *pcount) {
  (void)conn, (void)user, (void)prefix, (void)sep, (void)suffix;
  if (result) *result = "";
  if (plen) *plen = 0;
  if (pcount) *pcount = 0;
  return SASL_NOMECH;
}
