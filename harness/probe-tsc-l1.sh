#!/bin/bash
echo "ok 1 - probe"
echo "# clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) avail: $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource)"
echo "# flags: $(grep -o -w -E 'constant_tsc|nonstop_tsc|tsc_known_freq|tsc_reliable|tsc|rdtscp|invtsc' /proc/cpuinfo | sort -u | tr '\n' ' ')"
dmesg | grep -i -E 'tsc|clocksource' | sed 's/^/# /' | head -20
modprobe kvm_amd
ls /sys/module/kvm/parameters/ | tr '\n' ' '; echo
echo "# tsc_khz: $(dmesg | grep -o "tsc: Refined TSC clocksource calibration: .*\|tsc: Detected .*" | head -2 | tr "\n" " ")"
echo "1..1"
