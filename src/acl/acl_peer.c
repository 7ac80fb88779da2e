/* acl_peer.c - the nodes' credential (acl_peer.h). An HMAC with a fixed
 * label rather than the key itself, so the cluster secret never travels
 * on the client port. */
#include "acl/acl_peer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const char LABEL[] = "eventflow peer identity v1";

int acl_peer_token(const char *key, char out[ACL_PEER_TOKEN_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)LABEL, sizeof LABEL - 1, mac, &len) ==
            NULL ||
        len * 2 != ACL_PEER_TOKEN_LEN)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[ACL_PEER_TOKEN_LEN] = '\0';
    return 0;
}
