/* cosmotl inspect: per-simulation summary files and suite tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/h5.h"
#include "cosmotl/summary.h"

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *indent_)
{
    (void)info;
    const char *indent = indent_;
    if (!strncmp(name, "gather_", 7))
        return 0;
    char s[512];
    double d;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t cls = H5Tget_class(t);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    if (cls == H5T_STRING && n == 1 && ct_h5_read_attr_string(loc, name, s, sizeof s) == CT_OK)
        printf("%s%-14s %s\n", indent, name, s);
    else if (cls == H5T_INTEGER && n == 1 && ct_h5_read_attr_double(loc, name, &d) == CT_OK)
        printf("%s%-14s %.0f\n", indent, name, d);
    else if (cls == H5T_FLOAT && n == 1 && ct_h5_read_attr_double(loc, name, &d) == CT_OK)
        printf("%s%-14s %.10g\n", indent, name, d);
    else
        printf("%s%-14s (%lld values)\n", indent, name, (long long)n);
    ct_error_clear();
    return 0;
}

static void print_dataset_shape(hid_t g, const char *name, const char *indent)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4] = {0, 0, 0, 0};
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    printf("%s%-14s", indent, name);
    for (int i = 0; i < r; i++)
        printf("%s%llu", i ? " x " : " ", (unsigned long long)dims[i]);
    printf("\n");
    H5Sclose(sp);
    H5Dclose(d);
}

static void print_group(hid_t f, const char *gname, int suite)
{
    hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
    if (g < 0)
        return;
    printf("/%s\n", gname);
    H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, "  ");
    hsize_t nobj = 0;
    H5Gget_num_objs(g, &nobj);
    for (hsize_t o = 0; o < nobj; o++) {
        char n[128];
        H5Gget_objname_by_idx(g, o, n, sizeof n);
        print_dataset_shape(g, n, "  dataset ");
    }
    if (!suite && ct_h5_exists(g, "k") && ct_h5_exists(g, "P0")) {
        double *k = NULL, *p0 = NULL, *p2 = NULL, *p4 = NULL;
        int64_t *nm = NULL;
        int r;
        hsize_t d[2];
        if (ct_h5_read_doubles(g, "k", &k, &r, d) == CT_OK &&
            ct_h5_read_doubles(g, "P0", &p0, &r, d) == CT_OK &&
            ct_h5_read_doubles(g, "P2", &p2, &r, d) == CT_OK &&
            ct_h5_read_doubles(g, "P4", &p4, &r, d) == CT_OK &&
            ct_h5_read_int64s(g, "nmodes", &nm, &r, d) == CT_OK) {
            printf("  %12s %14s %14s %14s %10s\n", "k [h/Mpc]", "P0", "P2", "P4", "modes");
            for (hsize_t i = 0; i < d[0]; i++) {
                if (i == 8 && d[0] > 12) {
                    printf("  ... (%llu bins)\n", (unsigned long long)d[0]);
                    i = d[0] - 3;
                }
                printf("  %12.6f %14.6e %14.6e %14.6e %10lld\n", k[i], p0[i], p2[i], p4[i],
                       (long long)nm[i]);
            }
        }
        ct_error_clear();
        free(k);
        free(p0);
        free(p2);
        free(p4);
        free(nm);
    }
    if (suite && ct_h5_exists(g, "k")) {
        double *k = NULL;
        int r;
        hsize_t d[2];
        if (ct_h5_read_doubles(g, "k", &k, &r, d) == CT_OK && d[0] > 0)
            printf("  k range        %.6g .. %.6g h/Mpc (%llu bins)\n", k[0], k[d[0] - 1],
                   (unsigned long long)d[0]);
        ct_error_clear();
        free(k);
    }
    H5Gclose(g);
}

ct_status inspect_summary(const char *path, int kind, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(&kind, 1, MPI_INT, 0, comm);
    if (!kind)
        return CT_ERR_UNSUPPORTED;
    if (rank != 0)
        return CT_OK;
    hid_t f;
    CT_CHECK(ct_h5_open_ro(path, &f));
    /* every attribute-bearing header checked before anything is printed */
    hsize_t ng = 0;
    ct_status ok = ct_h5_check_attrs(f);
    H5Gget_num_objs(f, &ng);
    for (hsize_t o = 0; o < ng && ok == CT_OK; o++) {
        char n[128];
        H5Gget_objname_by_idx(f, o, n, sizeof n);
        if (H5Gget_objtype_by_idx(f, o) != H5G_GROUP)
            continue;
        hid_t g = H5Gopen2(f, n, H5P_DEFAULT);
        if (g >= 0) {
            ok = ct_h5_check_attrs(g);
            H5Gclose(g);
        }
    }
    if (ok != CT_OK) {
        H5Fclose(f);
        return ct_error_push(ok, __func__, __LINE__);
    }
    printf("%s: %s\n", path, kind == 1 ? "cosmotl per-simulation summary" : "suite table");
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, "  ");
    if (kind == 2) {
        double *st = NULL, *par = NULL;
        int r;
        hsize_t d[2] = {0, 0}, dp[2] = {0, 0};
        if (ct_h5_read_doubles(f, "status", &st, &r, d) == CT_OK) {
            long np = 0, nf = 0, nm = 0;
            for (hsize_t i = 0; i < d[0]; i++) {
                np += st[i] == 1;
                nf += st[i] == 2;
                nm += st[i] == 0;
            }
            printf("  simulations    %llu (%ld present, %ld failed, %ld missing)\n",
                   (unsigned long long)d[0], np, nf, nm);
        }
        if (ct_h5_read_doubles(f, "params", &par, &r, dp) == CT_OK)
            printf("  params         %llu x %llu\n", (unsigned long long)dp[0],
                   (unsigned long long)dp[1]);
        ct_error_clear();
        free(st);
        free(par);
    }
    hsize_t nobj = 0;
    H5Gget_num_objs(f, &nobj);
    for (hsize_t o = 0; o < nobj; o++) {
        char n[128];
        H5Gget_objname_by_idx(f, o, n, sizeof n);
        if (H5Gget_objtype_by_idx(f, o) == H5G_GROUP)
            print_group(f, n, kind == 2);
    }
    H5Fclose(f);
    fflush(stdout);
    return CT_OK;
}
