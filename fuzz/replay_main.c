/*
 * replay_main: a main() for the fuzz targets in builds without libFuzzer
 * (gcc, or clang without VABILL_FUZZ), so the seed corpora and every saved
 * crash input run as plain tests in each build, under ASan and UBSan when
 * the build has them.
 *
 * Arguments are files or directories; a directory's files run in name
 * order, hidden files (".gitkeep") skipped, a missing directory counts as
 * empty.  Each input is passed to LLVMFuzzerTestOneInput in a buffer of
 * exactly its size.  A finding aborts, which fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *data = malloc(cap);
    for (;;) {
        if (data == NULL) {
            fclose(f);
            fprintf(stderr, "%s: out of memory\n", path);
            return -1;
        }
        n += fread(data + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(data, cap * 2);
        if (bigger == NULL)
            free(data);
        data = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: read error\n", path);
        free(data);
        return -1;
    }
    /* an exact-size copy: a read past the input is a read past the heap block */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of dir in name order; returns the count or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (more == NULL)
                break;
            names = more;
        }
        names[n] = strdup(e->d_name);
        if (names[n] != NULL)
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    long done = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (run_file(path) != 0)
                done = -1;
            else if (done >= 0)
                done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        long got;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            got = run_dir(argv[i]);
        else
            got = run_file(argv[i]) == 0 ? 1 : -1;
        if (got < 0)
            return 1;
        printf("%s: %ld inputs\n", argv[i], got);
        total += got;
    }
    printf("%ld inputs replayed, no finding\n", total);
    return 0;
}
