/* Model provenance (statistics, k grid, cut, parameters, source, writer,
 * version): written and read back exactly, copied with the model, and checked
 * against inputs with a one-line error naming the model file and the attribute.
 * Also the checked formatting helpers (ct_snprintf, ct_asprintf) and the
 * atomic-write path of any length. All comparisons are exact (strings, integer
 * counts, doubles written and read back bitwise) unless stated. */
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosmotl/h5.h"
#include "cosmotl/nn.h"
#include "testlib.h"

/* A tiny suite table: 6 simulations, parameters a, b; /pk with 4 bins, /mk with 4
 * bins (k scaled by kscale), the last simulation marked missing. */
static void write_table(const char *path, double kscale)
{
    hid_t f = -1;
    CT_EXPECT_OK(ct_h5_create(path, &f));
    double par[12], P[24], k[4];
    for (int i = 0; i < 12; i++)
        par[i] = 0.1 * (i + 1);
    for (int i = 0; i < 24; i++)
        P[i] = 100.0 + i;
    for (int j = 0; j < 4; j++)
        k[j] = kscale * 0.1 * (j + 1);
    hsize_t dp[2] = {6, 2}, dP[2] = {6, 4}, dk = 4, ds = 6;
    CT_EXPECT_OK(ct_h5_write_doubles(f, "params", par, 2, dp));
    hid_t d = H5Dopen2(f, "params", H5P_DEFAULT);
    char names[2][CT_NN_NAME_MAX] = {"a", "b"};
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, CT_NN_NAME_MAX);
    hsize_t two = 2;
    hid_t sp = H5Screate_simple(1, &two, NULL);
    hid_t a = H5Acreate2(d, "names", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CT_EXPECT(H5Awrite(a, t, names) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    hid_t g = -1;
    const char *stats[2] = {"pk", "mk"};
    for (int s = 0; s < 2; s++) {
        CT_EXPECT_OK(ct_h5_group(f, stats[s], &g));
        CT_EXPECT_OK(ct_h5_write_doubles(g, "P", P, 2, dP));
        CT_EXPECT_OK(ct_h5_write_doubles(g, "k", k, 1, &dk));
        H5Gclose(g);
    }
    double st[6] = {1, 1, 1, 1, 1, 0};
    CT_EXPECT_OK(ct_h5_write_doubles(f, "status", st, 1, &ds));
    H5Fclose(f);
}

static ct_mlp *small_model(int n_in)
{
    ct_mlp_arch ar;
    ct_mlp_arch_defaults(&ar);
    ar.n_in = n_in;
    ar.n_targets = 2;
    ar.n_hidden = 1;
    ar.width[0] = 4;
    ct_mlp *m = NULL;
    CT_EXPECT_OK(ct_mlp_create(&m, &ar));
    const char *nm[2] = {"a", "b"};
    CT_EXPECT_OK(ct_mlp_set_targets(m, nm, NULL, NULL, NULL));
    return m;
}

static void test_format_helpers(void)
{
    char b[8];
    CT_EXPECT_OK(ct_snprintf(b, sizeof b, "%s", "1234567")); /* 7 + NUL: fits */
    CT_EXPECT(!strcmp(b, "1234567"));
    CT_EXPECT(ct_snprintf(b, sizeof b, "%s", "12345678") == CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "does not fit") != NULL);
    char *s = NULL;
    CT_EXPECT_OK(ct_asprintf(&s, "%0*d", 10000, 7)); /* far past any fixed buffer */
    CT_EXPECT(s && strlen(s) == 10000 && s[9999] == '7');
    free(s);
}

static void test_long_paths(void)
{
    /* a final path longer than PATH_MAX: its folder is named in full in the error
     * (the copy used for dirname was once cut at 4095 characters, which gave
     * "/tmp" as the folder and a temporary name in the wrong place) */
    size_t n = 5000;
    char *p = malloc(n + 32), tmp[8192];
    strcpy(p, "/tmp/");
    memset(p + 5, 'x', n);
    strcpy(p + 5 + n, "/model.h5");
    ct_status rc = ct_atomic_begin(p, tmp, sizeof tmp);
    CT_EXPECT(rc == CT_ERR_IO);
    CT_EXPECT(strstr(ct_error_message(), "does not exist") != NULL);
    /* a temporary name that does not fit its buffer is an error, not a cut */
    char small[64];
    CT_EXPECT(ct_atomic_begin("/tmp/a_rather_long_model_file_name_for_a_small_buffer.h5", small,
                              sizeof small) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "path too long") != NULL);
    free(p);
}

static void test_provenance(void)
{
    char dir[] = "/tmp/ct_prov_testXXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    char tab[256], tab2[256], mp[256], old[256];
    snprintf(tab, sizeof tab, "%s/t.h5", dir);
    snprintf(tab2, sizeof tab2, "%s/t2.h5", dir);
    snprintf(mp, sizeof mp, "%s/m.h5", dir);
    snprintf(old, sizeof old, "%s/old.h5", dir);
    write_table(tab, 1.0);
    write_table(tab2, 1.5);

    /* the inputs of "pk" with k <= 0.25: the first two bins */
    ct_table_select sel;
    ct_table_select_defaults(&sel);
    sel.stats = "pk";
    sel.k_max = 0.25;
    ct_model_prov in, pk_mk, mk, other_k;
    ct_model_prov_init(&in);
    ct_model_prov_init(&pk_mk);
    ct_model_prov_init(&mk);
    ct_model_prov_init(&other_k);
    CT_EXPECT_OK(ct_table_describe(tab, &sel, &in));
    CT_EXPECT(in.n_in == 2 && in.n_k == 2 && !strcmp(in.statistics, "pk"));
    CT_EXPECT(in.k && in.k[0] == 0.1 && in.k[1] == 0.2 && in.k_cut == 0.25);
    CT_EXPECT(strlen(in.k_hash) == 16 && !strcmp(in.source, tab));
    sel.stats = "pk+mk"; /* the study's spelling of a combination */
    CT_EXPECT_OK(ct_table_describe(tab, &sel, &pk_mk));
    CT_EXPECT(pk_mk.n_in == 4 && !strcmp(pk_mk.statistics, "pk,mk"));
    sel.stats = "mk";
    CT_EXPECT_OK(ct_table_describe(tab, &sel, &mk));
    sel.stats = "pk";
    sel.k_max = 0.35; /* tab2's k are 1.5x: again two bins, other k */
    CT_EXPECT_OK(ct_table_describe(tab2, &sel, &other_k));
    CT_EXPECT(other_k.n_in == 2 && strcmp(other_k.k_hash, in.k_hash) != 0);
    sel.stats = "bk";
    ct_model_prov none;
    ct_model_prov_init(&none);
    CT_EXPECT(ct_table_describe(tab, &sel, &none) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), "no statistic 'bk'") != NULL);

    /* a model trained on `in`: written and read back exactly */
    ct_mlp *m = small_model(2), *r = NULL, *cp = NULL, *ft = NULL;
    CT_EXPECT(ct_mlp_provenance(m) == NULL);
    CT_EXPECT(ct_mlp_set_provenance(m, &pk_mk, "test") == CT_ERR_ARG); /* 4 inputs != 2 */
    CT_EXPECT_OK(ct_mlp_set_provenance(m, &in, "unit test"));
    CT_EXPECT_OK(ct_mlp_save(m, mp, MPI_COMM_SELF));
    CT_EXPECT_OK(ct_mlp_load(&r, mp, MPI_COMM_SELF));
    const ct_model_prov *p = r ? ct_mlp_provenance(r) : NULL;
    CT_EXPECT(p != NULL);
    if (p) {
        CT_EXPECT(!strcmp(p->statistics, "pk") && p->n_in == 2 && p->n_k == 2);
        CT_EXPECT(p->k[0] == in.k[0] && p->k[1] == in.k[1] && !strcmp(p->k_hash, in.k_hash));
        CT_EXPECT(p->k_cut == 0.25 && p->n_bins_cut == 0 && p->input_log10 == 0);
        CT_EXPECT(!strcmp(p->params, "a,b") && !strcmp(p->source, tab));
        CT_EXPECT(!strcmp(p->writer, "unit test") && p->version[0] != '\0');
    }
    /* consumers: the same inputs pass, anything else fails naming file + attribute */
    if (r) {
        CT_EXPECT_OK(ct_mlp_check_inputs(r, mp, &in));
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &mk) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), mp) != NULL);
        CT_EXPECT(strstr(ct_error_message(), "statistics = 'pk'") != NULL);
        CT_EXPECT(strstr(ct_error_message(), "'mk'") != NULL);
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &pk_mk) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "statistics") != NULL);
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &other_k) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "model attribute k ") != NULL);
        /* raw spectra (the Python Model.predict path): k within 1e-6 passes */
        double k_ok[2] = {0.1 * (1 + 1e-9), 0.2}, k_bad[2] = {0.1, 0.2 * 1.01};
        ct_model_prov raw;
        ct_model_prov_init(&raw);
        CT_EXPECT_OK(ct_model_prov_set_k(&raw, "pk", k_ok, 2, 2));
        CT_EXPECT_OK(ct_mlp_check_inputs(r, mp, &raw));
        CT_EXPECT_OK(ct_model_prov_set_k(&raw, "pk", k_bad, 2, 2));
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &raw) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "at bin 1") != NULL);
        /* no k on the input side: the selection must agree */
        CT_EXPECT_OK(ct_model_prov_set_k(&raw, "pk", NULL, 0, 2));
        raw.k_cut = 0.25;
        CT_EXPECT_OK(ct_mlp_check_inputs(r, mp, &raw));
        raw.k_cut = 0.5;
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &raw) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "k_cut") != NULL);
        CT_EXPECT_OK(ct_model_prov_set_k(&raw, "pk", NULL, 0, 3));
        raw.k_cut = 0.25;
        CT_EXPECT(ct_mlp_check_inputs(r, mp, &raw) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "n_in = 2") != NULL);
        ct_model_prov_free(&raw);
        /* copies and fine-tuned models keep it (same inputs) */
        CT_EXPECT_OK(ct_mlp_copy(r, &cp));
        CT_EXPECT(cp && cp->prov && cp->prov != r->prov &&
                  !strcmp(cp->prov->k_hash, r->prov->k_hash) && cp->prov->k != r->prov->k);
        ct_finetune_settings fs;
        ct_finetune_settings_defaults(&fs);
        fs.kind = CT_FINETUNE_NEW_HEAD;
        CT_EXPECT_OK(ct_mlp_finetune(r, &fs, &ft));
        CT_EXPECT(ft && ft->prov && !strcmp(ft->prov->statistics, "pk"));
    }
    /* a file written before provenance: loads, checked on the input length only */
    ct_mlp *o = small_model(2), *ro = NULL;
    CT_EXPECT_OK(ct_mlp_save(o, old, MPI_COMM_SELF));
    CT_EXPECT_OK(ct_mlp_load(&ro, old, MPI_COMM_SELF));
    if (ro) {
        CT_EXPECT(ct_mlp_provenance(ro) == NULL);
        CT_EXPECT_OK(ct_mlp_check_inputs(ro, old, &mk)); /* 2 inputs: nothing else known */
        CT_EXPECT(ct_mlp_check_inputs(ro, old, &pk_mk) == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), old) != NULL);
    }
    /* a provenance whose n_in disagrees with the network is a corrupt file */
    {
        hid_t f = H5Fopen(mp, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t g = H5Gopen2(f, "provenance", H5P_DEFAULT);
        H5Adelete(g, "n_in");
        CT_EXPECT_OK(ct_h5_attr_int(g, "n_in", 3));
        H5Gclose(g);
        H5Fclose(f);
        ct_mlp *bad = NULL;
        CT_EXPECT(ct_mlp_load(&bad, mp, MPI_COMM_SELF) == CT_ERR_FORMAT && bad == NULL);
        CT_EXPECT(strstr(ct_error_message(), "provenance") != NULL);
    }
    ct_mlp_destroy(&m);
    ct_mlp_destroy(&r);
    ct_mlp_destroy(&cp);
    ct_mlp_destroy(&ft);
    ct_mlp_destroy(&o);
    ct_mlp_destroy(&ro);
    ct_model_prov_free(&in);
    ct_model_prov_free(&pk_mk);
    ct_model_prov_free(&mk);
    ct_model_prov_free(&other_k);
    unlink(tab);
    unlink(tab2);
    unlink(mp);
    unlink(old);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    ct_h5_quiet();
    test_format_helpers();
    test_long_paths();
    test_provenance();
    CT_TEST_END();
}
