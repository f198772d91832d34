# shellcheck shell=dash
# L2 side of the no-host test: the guest module must load, stay idle and
# unload cleanly when no pvchan host serves the VM.
if insmod /pvchan_guest.ko; then echo "G insmod 0"; else echo "G insmod 1"; fi
echo "G state $(sed -n 's/^state //p' /sys/kernel/debug/pvchan-guest/state)"
echo "G idle_msg $(dmesg | grep -c 'no pvchan host serves this VM; idle')"
echo "G hello_calls $(sed -n 's/^hello //p' /sys/kernel/debug/pvchan-guest/hypercalls)"
if rmmod pvchan_guest; then echo "G rmmod 0"; else echo "G rmmod 1"; fi
dmesg | grep -qE 'WARNING|BUG|Call Trace' && echo "G guest_splat 1"
echo "=== NOGUEST DONE"
