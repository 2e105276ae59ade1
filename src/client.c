/*
 * client: a bounded libcurl form POST.  See client.h.
 */
#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t n = size * nmemb;
    return buf_add(b, p, n) == ERR_OK ? n : 0;
}

enum vb_err client_post_form(const char *url, const char *form, size_t n, long timeout_ms,
                             long *http_status, struct buf *answer, char *why, size_t whylen)
{
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(why, whylen, "cannot start libcurl");
        return ERR_NOMEM;
    }
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)n);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
    CURLcode rc = curl_easy_perform(curl);
    enum vb_err e = ERR_OK;
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s: %s", url, curl_easy_strerror(rc));
        e = ERR_INVALID;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return e;
}

enum vb_err client_url(const char *base, const char *path, struct buf *out)
{
    /* a service URL given instead of the server's: keep the server part */
    const char *svc = strstr(base, "/rest/virtualaccount/");
    size_t n = svc ? (size_t)(svc - base) : strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    buf_add(out, base, n);
    return buf_adds(out, path);
}
