/* Overwrite one coordinate of an HDF5 snapshot file in place:
 *   poke_position FILE TYPE ROW AXIS VALUE
 * sets PartType<TYPE>/Coordinates[ROW][AXIS] = VALUE (file units). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: poke_position FILE TYPE ROW AXIS VALUE\n");
        return 2;
    }
    char ds[64];
    snprintf(ds, sizeof ds, "PartType%d/Coordinates", atoi(argv[2]));
    hsize_t start[2] = {(hsize_t)atoll(argv[3]), (hsize_t)atoi(argv[4])}, count[2] = {1, 1};
    float v = strtof(argv[5], NULL);
    int rc = 1;
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, ds, H5P_DEFAULT) : -1;
    hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
    hid_t ms = H5Screate_simple(2, count, NULL);
    if (fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v) >= 0)
        rc = 0;
    H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    if (rc)
        fprintf(stderr, "poke_position: cannot write %s[%s][%s] in %s\n", ds, argv[3], argv[4],
                argv[1]);
    return rc;
}
