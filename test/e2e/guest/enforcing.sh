# shellcheck shell=sh
# Sourced by /init (test/e2e/guest/init) when the kernel was booted with module.sig_enforce=1: the Secure Boot
# scenarios of issue #10. test/e2e/ci.sh boots this under OVMF with a UEFI db holding /e2e/sign/trusted.der, which
# Debian's kernel loads into its .platform keyring and (Debian patch "KEYS: Make use of platform keyring for module
# signature verify") trusts for modules; /e2e/sign/untrusted.* is trusted by nothing. Without OVMF (SeaBIOS) S4 is
# reported as SKIP. Every run uses --compile: no download is tried, and the guest has no dkms or gcc, so after the
# cached module the loader goes straight to its modprobe fallback and gives up.
DRIVERS_REPO=http://127.0.0.1:8089
export DRIVERS_REPO
SIGN_U="--sign-key /e2e/sign/untrusted.key --sign-cert /e2e/sign/untrusted.der --sign-tool builtin"

# What the loader should read: no /sys/firmware/efi is a BIOS boot (off); a mounted efivarfs without a SecureBoot
# variable (OVMF built without Secure Boot) is off too; efivarfs missing on UEFI is unknown.
SB=off
[ "$EFIVARS" = missing ] && SB=unknown
STATE="* Module signature checks: Secure Boot $SB, lockdown none, module.sig_enforce Y"
if grep -qF "$CN_T" /proc/keys 2>/dev/null; then TRUSTED=yes; else TRUSTED=no; fi
echo "== platform keyring: $(grep -F ' .platform: ' /proc/keys | sed 's/.*keyring *//'); test key enrolled: $TRUSTED"

# S1. The unsigned cached module: the kernel refuses it, the loader explains why and what will work, keeps the file.
begin S1 "sig_enforce=1: an unsigned module is refused; exit 1 with the explanation; the cached file is kept"
cache_unsigned
L0=$(kloads)
R0=$(krejects "unsigned module")
run_loader /tmp/sS1.log --compile
check "exit $RC, wanted 1" eq "$RC" 1
check "not tried from the cache" has /tmp/sS1.log "* Found a prebuilt falco module at $CACHED, loading it"
check "no 'Key was rejected by service' from insmod" has /tmp/sS1.log "could not insert module $CACHED: Key was rejected by service"
check "no state line '$STATE'" has /tmp/sS1.log "$STATE"
check "no verdict" has /tmp/sS1.log "so this kernel refuses a module unless it is signed by a key it trusts (built in, or enrolled as a MOK)"
check "no 'What will work:'" has /tmp/sS1.log "What will work:"
check "no signing advice" has /tmp/sS1.log "- sign with an enrolled key: make a key pair, enroll the certificate with mokutil --import <cert> (then reboot), run with --sign-key <key> --sign-cert <cert>"
check "no DKMS advice" has /tmp/sS1.log "- DKMS with MOK signing: dkms is not installed"
check "no modern_ebpf advice" has /tmp/sS1.log "- modern_ebpf: needs no module"
check "explained more than once" eq "$(grep -cF 'What will work:' /tmp/sS1.log)" 1
check "the cached module was removed or changed" unsigned "$CACHED"
check "something was loaded" unloaded
check "the kernel ran a module init" eq "$(kloads)" "$L0"
check "dmesg: no new 'Loading of unsigned module is rejected'" eq "$(krejects "unsigned module")" "$((R0 + 1))"
end "exit 1, 'Key was rejected by service', '$(grep -oF "$STATE" /tmp/sS1.log | head -n 1 | cut -c3-)', what will work (3 ways), cached file kept unsigned"

# S2. Signed with a throwaway key the kernel does not trust: the kernel parses the signature, finds no such key,
#     refuses; the loader says that key is not enrolled; the signed module stays in the cache for the next run.
begin S2 "sig_enforce=1: signed by a key the kernel does not trust; refused, 'kernel does not trust that key'"
L0=$(kloads)
R0=$(krejects "module with unavailable key")
# shellcheck disable=SC2086 # SIGN_U is a list of options
run_loader /tmp/sS2.log --compile $SIGN_U
check "exit $RC, wanted 1" eq "$RC" 1
check "no '* Signed by' line" has /tmp/sS2.log "* Signed by '$CN_U' (sha256, "
check "no 'Key was rejected by service' from insmod" has /tmp/sS2.log "could not insert module $CACHED: Key was rejected by service"
check "no state line '$STATE'" has /tmp/sS2.log "$STATE"
check "no 'kernel does not trust that key'" has /tmp/sS2.log "- the module was signed with '$CN_U', but the kernel does not trust that key: enroll it with mokutil --import /e2e/sign/untrusted.der and reboot"
check "cached module: $(sig_fields "$CACHED"), wanted '$CN_U', $SERIAL_U" signed_by "$CACHED" "$CN_U" "$SERIAL_U"
check "something was loaded" unloaded
check "the kernel ran a module init" eq "$(kloads)" "$L0"
check "dmesg: no new 'Loading of module with unavailable key is rejected'" eq "$(krejects "module with unavailable key")" "$((R0 + 1))"
end "exit 1, the kernel found the signature and no such key ('module with unavailable key'), loader: 'kernel does not trust that key'; cache keeps the signed module ($(sig_fields "$CACHED"))"

# S4. Signed with the key in the UEFI db: loads under enforcement. The cached module still carries the untrusted
#     signature from S2, which the loader replaces (the kernel checks only one).
begin S4 "sig_enforce=1: signed by a key the kernel trusts (UEFI db -> .platform keyring), the module loads"
if [ ! -d /sys/firmware/efi ]; then
  echo "E2E S4 SKIP not covered: this boot has no UEFI firmware (OVMF not installed or E2E_OVMF_CODE=none), so the test key cannot be put in the UEFI db; Debian's kernel trusts only its build key, db/MOK certificates and nothing a test can add at run time ($(elapsed "$T0"))"
elif [ "$TRUSTED" != yes ]; then
  echo "E2E S4 FAIL booted under UEFI, but '$CN_T' is not in the kernel's keyrings (dmesg: $(dmesg | grep -E 'UEFI:db|db signatures' | tr '\n' ' ')) ($(elapsed "$T0"))"
else
  L0=$(kloads)
  R0=$(dmesg | grep -c 'Loading of .* is rejected')
  # shellcheck disable=SC2086 # SIGN_T is a list of options
  run_loader /tmp/sS4.log --compile $SIGN_T
  check "exit $RC, wanted 0" eq "$RC" 0
  check "the untrusted signature was not replaced" has /tmp/sS4.log "carries a signature by '$CN_U'"
  check "no '* Signed by' line" has /tmp/sS4.log "* Signed by '$CN_T' (sha256, "
  check "insmod was refused" lacks /tmp/sS4.log "Key was rejected"
  check "/sys/module/falco missing" loaded
  check "version '$(cat /sys/module/falco/version 2>/dev/null)'" version_is "$SERVED_VERSION"
  check "the kernel did not run the module's init once" eq "$(kloads)" "$((L0 + 1))"
  check "dmesg: a new rejection" eq "$(dmesg | grep -c 'Loading of .* is rejected')" "$R0"
  check "cached module: $(sig_fields "$CACHED"), wanted '$CN_T', $SERIAL_T" signed_by "$CACHED" "$CN_T" "$SERIAL_T"
  end "exit 0 under sig_enforce=1, /sys/module/falco/version=$(cat /sys/module/falco/version 2>/dev/null); the untrusted signature was replaced: $(sig_fields "$CACHED"); the key is in the kernel's .platform keyring from the UEFI db"
fi
