"""Linear matter power spectrum of the simulator's cosmology module."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ._lib import ArgumentError, check, ffi, lib

__all__ = ["linear_pk", "FIDUCIAL"]

#: Quijote's fiducial cosmology (the library's defaults).
FIDUCIAL = {"omega_m": 0.3175, "omega_b": 0.049, "h": 0.6711, "n_s": 0.9624, "sigma8": 0.834}

_KEYS = {"omega_m": ("omega_m", "Om", "Omega_m"), "omega_b": ("omega_b", "Ob", "Omega_b"),
         "h": ("h",), "n_s": ("n_s", "ns"), "sigma8": ("sigma8", "s8", "sigma_8"),
         "m_nu": ("m_nu", "Mnu", "M_nu"), "w": ("w",), "f_r0": ("f_r0", "fR0"),
         "a_s": ("a_s", "As", "A_s")}
_TRANSFER = {"eh98": "CT_LIN_EH98", "eh98_nowiggle": "CT_LIN_EH98_NOWIGGLE"}


def linear_pk(cosmology: Optional[Mapping[str, Any]], k: Union[float, Sequence[float], np.ndarray],
              z: float = 0.0, *,
              species: str = "total", transfer: str = "eh98") -> np.ndarray:
    """Linear P(k, z) in (Mpc/h)^3 at k in h/Mpc (any array shape).

    cosmology: a mapping with any of omega_m (Om), omega_b (Ob), h, n_s (ns),
        sigma8 (s8), m_nu (Mnu, eV), w, f_r0 (fR0), a_s (As, used when sigma8 <=
        0); missing ones take the Quijote fiducial values; None: fiducial.
    species: "total" matter or "cb" (CDM + baryons). transfer: "eh98" (with
        baryon wiggles) or "eh98_nowiggle". Includes the scale-dependent growth
        of massive neutrinos and f(R) as the simulator's initial conditions do."""
    p = ffi.new("ct_cosmo_params *")
    lib.ct_cosmo_params_defaults(p)
    given = dict(cosmology or {})
    for field, names in _KEYS.items():
        hits = [n for n in names if n in given]
        if len(hits) > 1:
            raise ArgumentError(f"cosmology gives {field} twice ({', '.join(hits)})")
        if hits:
            v = given.pop(hits[0])
            try:
                setattr(p, field, float(v))
            except (TypeError, ValueError):
                raise ArgumentError(f"cosmology: {hits[0]} must be a number, not {v!r}") from None
    if given:
        raise ArgumentError(f"cosmology: unknown parameter(s) {', '.join(sorted(given))}")
    if transfer not in _TRANSFER:
        raise ArgumentError(f"transfer must be one of {', '.join(_TRANSFER)}, not {transfer!r}")
    p.transfer = getattr(lib, _TRANSFER[transfer])
    sp = {"total": lib.CT_SPECIES_TOTAL, "cb": lib.CT_SPECIES_CB}.get(species)
    if sp is None:
        raise ArgumentError(f"species must be 'total' or 'cb', not {species!r}")
    zf = float(z)
    if not (np.isfinite(zf) and zf > -1):
        raise ArgumentError(f"z must be a number > -1, not {z!r}")
    kk = np.asarray(k, dtype=np.float64)
    if not (np.isfinite(kk).all() and (kk > 0).all()):
        raise ArgumentError("k must be positive and finite")
    cp = ffi.new("ct_cosmo **")
    check(lib.ct_cosmo_create(cp, p))
    try:
        a = 1.0 / (1.0 + zf)
        out = np.empty(kk.shape)
        flat = out.reshape(-1)
        for i, kv in enumerate(kk.reshape(-1)):
            flat[i] = lib.ct_cosmo_pk(cp[0], float(kv), a, sp)
        return out
    finally:
        lib.ct_cosmo_destroy(cp)
