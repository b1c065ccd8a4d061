/**
 * "Kernel.org checksum autosigner <autosigner@kernel.org>", RSA 4096, created 2013-01-24: the key that signs the
 * `sha256sums.asc` of every kernel.org release directory (https://www.kernel.org/signature.html). A minimal export
 * (the public-key packet only). Its fingerprint is computed from these bytes at run time and must equal the pinned
 * one, which is the fingerprint kernel.org and many independent verifiers publish, so a changed byte is refused.
 */
export const KERNEL_ORG_AUTOSIGNER_FINGERPRINT = 'B8868C80BA62A1FFFAF5FDA9632D3A06589DA6B1';

export const KERNEL_ORG_KEYS = `-----BEGIN PGP PUBLIC KEY BLOCK-----

xsFNBFEBWz4BEAC5TM6NkCTlrvbhGvQf19EZ1vpnB9/8wBeA7tpmc0bFSts7qfPK
ebSrtvbtV1Mnmn4I96NSUbpPLfrhN7+mDzrZq5J0uc7tLsyh4lYurP1rnLwHRfhJ
IgyzuwNQ2LUp9qc9jhi7F7a5rsnbma+/t3TOwTRlm8CwJUcmVPM3+F+sCM0qBeKV
4X6n9/32WV+gaVfERPK6JE58EmtKtbn4eKWFtEZ8nvrOEIHr/woVkWAxpwuLHKDN
MHdsVDv2AWFBFBMf2XTTm2fMrBL+WRuqXzQ+d/VAUSlaDhRTWX/x1RQrR60CNXIX
NTIk5gofX2M1vOsP0i8GZDFEXRTy7arK5epFChlPB//F+VpLD9zm3CisQdYtmlMk
SBP91KZYg8KQuC36qfPtwahB2P2B+lG1iZIXM1d0G/GC47Tko8T2tFcEzB/Wzi6j
rEQbPL9u1iaXXFpUaQJ9v6v1FU0vLmG1tKc2E2GcU/Nblm0T67UIEgAjPewPdzga
ZkwT9HeFxw7nMiYlIMPsGRtQTiNqdAQJ/CRWeRiYff8oLHQr5Hbq/yXwDbW0tvAs
E3B1N0/NrE4SNJsGrGE72VpSx8RPErTSAOZ3CmNuP4aX0vKEzyr5at/PxG+jHU+2
LdouCpcaQ9bhLsiG8EYPGM3dNSvHVYFgBqGfN2GFEwka5ZTcE2gVsBOXEwARAQAB
=ouUV
-----END PGP PUBLIC KEY BLOCK-----
`;
