/*
 * dt: calendar arithmetic without the C library's time zone machinery, so
 * the result never depends on TZ.  Days from civil: H. Hinnant's algorithm.
 */
#include "dt.h"

#include <time.h>

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

static bool num(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool dt_parse_offset(const char *s, int *minutes)
{
    int h, m;
    if ((s[0] != '+' && s[0] != '-') || s[1] == '\0' || s[2] == '\0' || s[3] != ':' ||
        s[4] == '\0' || s[5] == '\0' || s[6] != '\0')
        return false;
    if (!num(s + 1, 2, &h) || !num(s + 4, 2, &m) || m > 59 || h * 60 + m > 14 * 60)
        return false;
    *minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return true;
}

bool dt_parse(const char *s, size_t n, int offset_min, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (n != DT_LEN || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
        return false;
    if (!num(s, 4, &y) || !num(s + 5, 2, &mo) || !num(s + 8, 2, &d) || !num(s + 11, 2, &h) ||
        !num(s + 14, 2, &mi) || !num(s + 17, 2, &se))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - (int64_t)offset_min * 60;
    return true;
}

void dt_format(int64_t t, int offset_min, char out[DT_LEN + 1])
{
    t += (int64_t)offset_min * 60;
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    /* every field is a known range; build by digits so no width can overflow */
    unsigned yy = (unsigned)(y % 10000 + 10000) % 10000;
    unsigned v[6] = {yy,
                     (unsigned)m,
                     (unsigned)d,
                     (unsigned)(secs / 3600),
                     (unsigned)(secs / 60 % 60),
                     (unsigned)(secs % 60)};
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    static const char sep[] = "-- ::";
    for (int k = 1; k < 6; k++) {
        out[1 + 3 * k] = sep[k - 1];
        out[2 + 3 * k] = (char)('0' + v[k] / 10 % 10);
        out[3 + 3 * k] = (char)('0' + v[k] % 10);
    }
    out[DT_LEN] = '\0';
}

int64_t dt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}
