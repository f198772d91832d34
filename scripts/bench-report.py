#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: turn the raw data of tests/bench/bench-l1.sh (snap.log: L1's
counters at the start and end of every run; l2.log: each run's result)
into results.json, bench.md and PNG charts (gnuplot) in OUTDIR.

    bench-report.py RUNDIR OUTDIR

Per run (a window in steady state): IOPS (the disk's own counts in L2),
mean and p99 completion latency (fio, whole run), and per I/O:
VM exits (all, and by reason, net of the idle guest's rate measured first),
pvchan hypercalls, the disk's interrupts in L2, L1's busy CPU time.  Per
workload and device: the median of the runs and their spread (min-max).
Per clocksource: ns per clock_gettime(), system calls and VM exits per read."""
import json
import os
import statistics
import subprocess
import sys

# SVM exit codes seen here (arch/x86/include/uapi/asm/svm.h).
SVM_EXITS = {0x60: "intr", 0x61: "nmi", 0x64: "vintr", 0x72: "cpuid",
             0x78: "hlt", 0x7b: "ioio", 0x7c: "msr", 0x81: "vmmcall",
             0x400: "npf", 0x401: "avic_ipi", 0x402: "avic_access"}


def parse_kv(words):
    kv = (w.split("=", 1) for w in words if "=" in w)
    return {k: float(v) for k, v in kv if v}


def load(rundir):
    snaps = {}
    with open(os.path.join(rundir, "snap.log")) as f:
        for line in f:
            head, _, rest = line.rstrip("\n").partition("|")
            what, _, tag = head.partition(" ")
            snaps.setdefault(tag, {})[what] = parse_kv(rest.split())
    results = {}
    with open(os.path.join(rundir, "l2.log")) as f:
        for line in f:
            if line.startswith("G result "):
                w = line.split()[2:]
                n = next((i for i, x in enumerate(w) if "=" in x), len(w))
                results[" ".join(w[:n])] = parse_kv(w[n:])
    return snaps, results


# L1 takes its counters when it reads L2's frame lines; a window whose
# length as L1 saw it differs from L2's by more than this share is out of
# step, and its L1 counters (exits, hypercalls, L1 CPU, taps) are left out.
MAX_SKEW = 0.2
L1_KEYS = {"exits_per_io", "hypercalls_per_io", "l1_cpu_us_per_io",
           "reqs_per_batch",
           "exits_per_pkt", "l1_cpu_us_per_pkt", "value"}


def window_skew(d, r):
    """How far L1's view of a window's length is from L2's (a share)."""
    l2 = r.get("csecs", 0) / 100
    return abs(d.get("t", 0) - l2) / l2 if l2 else 1.0


def spread(rs, keys):
    """Median, min and max of every key over the runs rs."""
    s = {}
    for k in keys:
        v = [r[k] for r in rs
             if (k not in L1_KEYS or r.get("window_skew", 0) <= MAX_SKEW)
             and r[k] == r[k]]  # NaN: the run has no such value
        s[k] = ({"median": statistics.median(v), "min": min(v), "max": max(v),
                 "runs": len(v)} if v else
                {"median": float("nan"), "min": float("nan"),
                 "max": float("nan"), "runs": 0})
    return s


def delta(s):
    b, e = s["begin"], s["end"]
    return {k: e.get(k, 0) - b.get(k, 0) for k in e}


def net_exits(d, idle_rate, count):
    """Exits in the window d net of the idle rate, in all and by reason,
    per unit of work (count I/Os or reads)."""
    net = {k: max(d.get(k, 0) - idle_rate.get(k, 0) * d["t"], 0)
           for k in d if k.startswith("exit")}
    reasons = {SVM_EXITS.get(int(k[5:]), k[5:]): v / count
               for k, v in net.items() if k.startswith("exit_") and v > 0}
    return net.get("exits", 0) / count, reasons


BLOCK_KEYS = ["iops", "lat_us", "p99_us", "exits_per_io", "hypercalls_per_io",
              "irqs_per_io", "l1_cpu_us_per_io", "reqs_per_batch"]
CLOCK_KEYS = ["ns_per_read", "syscalls_per_read", "exits_per_read"]


def block_runs(snaps, results, idle_rate):
    runs = []
    for tag, r in results.items():
        if tag.startswith(("clock ", "net ")):
            continue
        dev, rw, qd, jobs, rep = tag.split()
        d = delta(snaps[tag])
        ios = r.get("ios", 0) or 1
        exits, reasons = net_exits(d, idle_rate, ios)
        skew = window_skew(d, r)
        runs.append({
            "dev": dev, "rw": rw, "iodepth": int(qd), "jobs": int(jobs),
            "rep": int(rep), "iops": r.get("iops", 0),
            "lat_us": r.get("lat_us", 0), "p99_us": r.get("p99_us", 0),
            "exits_per_io": exits, "exits_per_io_by_reason": reasons,
            "hypercalls_per_io": d.get("hypercalls", 0) / ios,
            "irqs_per_io": r.get("irqs", 0) / ios,
            "l1_cpu_us_per_io": d.get("l1_busy_ticks", 0) * 1e4 / ios,
            # pvblk: requests the host worker took per wake-up.
            "reqs_per_batch": (d.get("pvblk_requests", 0) / d["pvblk_batches"]
                               if dev == "pvda" and d.get("pvblk_batches")
                               else float("nan")),
            "window_skew": skew,
        })
    return runs


def clock_runs(snaps, results, idle_rate):
    runs = []
    for tag, r in results.items():
        if not tag.startswith("clock "):
            continue
        _, cs, rep = tag.split()
        reads = r.get("reads", 0) or 1
        exits, reasons = net_exits(delta(snaps[tag]), idle_rate, reads)
        runs.append({"clocksource": cs, "rep": int(rep),
                     "ns_per_read": r.get("ns_per_read", 0),
                     "syscalls_per_read": r.get("syscalls_per_read", -1),
                     "exits_per_read": exits,
                     "exits_per_read_by_reason": reasons})
    return runs


NET_KEYS = ["value", "exits_per_pkt", "irqs_per_pkt", "l1_cpu_us_per_pkt",
            "lat_us", "p99_us"]
# Per network workload: what is measured and where.  Rates delivered to L1
# come from L1's side of the device's tap (its rx: what L2 sent); what L2
# received from L2's device counters (vhost-net does not count a tap's
# transmissions); ping-pong transactions from sockperf's mean round trip
# (one client, one message in flight).
NET_WORKLOADS = {
    "tcp_tx": "TCP stream L2->L1, Mbit/s",
    "tcp_rx": "TCP stream L1->L2, Mbit/s",
    "udp64_tx": "64-byte UDP L2->L1, packets/s",
    "rr": "TCP ping-pong 64 bytes, transactions/s",
}


def net_value(wl, tap_delta, r, secs):
    if wl == "tcp_tx":
        return tap_delta.get("rx_bytes", 0) * 8e-6 / secs
    if wl == "tcp_rx":
        return r.get("rx_bytes", 0) * 8e-6 / (r.get("csecs", 0) / 100 or 1)
    if wl == "udp64_tx":
        return tap_delta.get("rx_packets", 0) / secs
    return 1e6 / r["lat_us"] if r.get("lat_us") else 0


def net_runs(snaps, results, idle_rate):
    runs = []
    for tag, r in results.items():
        if not tag.startswith("net "):
            continue
        _, dev, wl, rep = tag.split()
        d = delta(snaps[tag])
        tap = "pvtap0" if dev == "pvnet0" else "vtap0"
        pkts = r.get("pkts", 0) or 1
        exits, reasons = net_exits(d, idle_rate, pkts)
        skew = window_skew(d, r)
        taps = {k[len(tap) + 1:]: v for k, v in d.items()
                if k.startswith(tap + "_")}
        runs.append({
            "dev": dev, "workload": wl, "rep": int(rep),
            "value": net_value(wl, taps, r, d["t"] or 1),
            "exits_per_pkt": exits, "exits_per_pkt_by_reason": reasons,
            "irqs_per_pkt": r.get("irqs", 0) / pkts,
            "l1_cpu_us_per_pkt": d.get("l1_busy_ticks", 0) * 1e4 / pkts,
            "lat_us": r.get("lat_us", 0), "p99_us": r.get("p99_us", 0),
            "window_skew": skew,
        })
    return runs


def net_table(summary):
    by = {(s["workload"], s["dev"]): s for s in summary}
    lines = ["| workload | device | value (min-max) | pv/virtio | exits/packet "
             "| irqs/packet | L1 CPU us/packet | lat us | p99 us |",
             "|---|---|---|---|---|---|---|---|---|"]
    for wl in NET_WORKLOADS:
        pv = by.get((wl, "pvnet0"))
        vd = next((s for (w, d), s in by.items() if w == wl and d != "pvnet0"),
                  None)
        for s in (pv, vd):
            if not s:
                continue
            v = s["value"]
            ratio = (pv["value"]["median"] / vd["value"]["median"]
                     if s is pv and vd and vd["value"]["median"] else None)
            lines.append("| %s | %s | %.3g (%.3g-%.3g) | %s | %.2f | %.2f | %.0f "
                         "| %s | %s |" % (
                             NET_WORKLOADS[wl],
                             "pvnet" if s is pv else "virtio-net (vhost)",
                             v["median"], v["min"], v["max"],
                             "%.2fx" % ratio if ratio else "",
                             s["exits_per_pkt"]["median"], s["irqs_per_pkt"]["median"],
                             s["l1_cpu_us_per_pkt"]["median"],
                             "%.0f" % s["lat_us"]["median"] if wl == "rr" else "",
                             "%.0f" % s["p99_us"]["median"] if wl == "rr" else ""))
    return lines


def block_table(summary):
    by = {(s["rw"], s["iodepth"], s["jobs"], s["dev"]): s for s in summary}
    lines = ["| workload | device | IOPS (min-max) | pv/virtio | lat us | p99 us "
             "| exits/IO | hypercalls/IO | irqs/IO | L1 CPU us/IO | requests/host batch |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (rw, qd, jobs, dev), s in sorted(by.items()):
        other = by.get((rw, qd, jobs, "vda"))
        ratio = (s["iops"]["median"] / other["iops"]["median"]
                 if dev == "pvda" and other and other["iops"]["median"] else None)
        lines.append("| 4k %s qd%d x%d | %s | %.0f (%.0f-%.0f) | %s | %.0f | %.0f "
                     "| %.2f | %.2f | %.2f | %.0f | %s |" % (
                         rw, qd, jobs, "pvblk" if dev == "pvda" else "virtio-blk",
                         s["iops"]["median"], s["iops"]["min"], s["iops"]["max"],
                         "%.2fx" % ratio if ratio else "",
                         s["lat_us"]["median"], s["p99_us"]["median"],
                         s["exits_per_io"]["median"], s["hypercalls_per_io"]["median"],
                         s["irqs_per_io"]["median"], s["l1_cpu_us_per_io"]["median"],
                         "%.1f" % s["reqs_per_batch"]["median"]
                         if s["reqs_per_batch"]["runs"] else ""))
    return lines


def clock_table(summary):
    base = next((s["ns_per_read"]["median"] for s in summary
                 if s["clocksource"] == "kvm-clock"), None)
    lines = ["| clocksource | ns/read (min-max) | vs kvm-clock | syscalls/read "
             "| exits/read |", "|---|---|---|---|---|"]
    for s in summary:
        m = s["ns_per_read"]
        lines.append("| %s | %.1f (%.1f-%.1f) | %s | %.3f | %.4f |" % (
            s["clocksource"], m["median"], m["min"], m["max"],
            "%.2fx" % (m["median"] / base) if base else "",
            s["syscalls_per_read"]["median"], s["exits_per_read"]["median"]))
    return lines


def ratios(block, net, clock):
    """pvchan over its alternative, per workload (medians; above 1: pvchan
    does better): IOPS, throughput or rate, and kvm-clock's read time over
    pvchan-tsc's."""
    out = []
    by = {(s["rw"], s["iodepth"], s["jobs"], s["dev"]): s for s in block}
    for (rw, qd, jobs, dev), s in sorted(by.items()):
        vd = by.get((rw, qd, jobs, "vda"))
        if dev == "pvda" and vd and vd["iops"]["median"]:
            out.append(("%s-qd%d-x%d" % (rw[4:], qd, jobs),
                        s["iops"]["median"] / vd["iops"]["median"]))
    for wl in NET_WORKLOADS:
        pv = next((s for s in net if s["workload"] == wl and s["dev"] == "pvnet0"), None)
        vd = next((s for s in net if s["workload"] == wl and s["dev"] != "pvnet0"), None)
        if pv and vd and vd["value"]["median"]:
            out.append((wl, pv["value"]["median"] / vd["value"]["median"]))
    cs = {s["clocksource"]: s["ns_per_read"]["median"] for s in clock}
    if cs.get("pvchan-tsc") and cs.get("kvm-clock"):
        out.append(("clock_gettime", cs["kvm-clock"] / cs["pvchan-tsc"]))
    return out


def charts(outdir, block, net, clock):
    """PNG bar charts (medians, min-max as error bars) with gnuplot; returns
    the files made."""
    with open(os.path.join(outdir, "ratios.dat"), "w") as f:
        f.write("# workload pvchan/alternative\n")
        for wl, r in ratios(block, net, clock):
            f.write("%s %.3f\n" % (wl, r))
    with open(os.path.join(outdir, "block.dat"), "w") as f:
        f.write("# workload pvblk min max virtio min max pvexits virtioexits\n")
        by = {(s["rw"], s["iodepth"], s["jobs"], s["dev"]): s for s in block}
        for (rw, qd, jobs) in sorted({k[:3] for k in by}):
            pv, vd = by.get((rw, qd, jobs, "pvda")), by.get((rw, qd, jobs, "vda"))
            if not pv or not vd:
                continue
            f.write("%s-qd%d-x%d %s %s %.3f %.3f\n" % (
                rw[4:], qd, jobs,
                " ".join("%.1f" % pv["iops"][k] for k in ("median", "min", "max")),
                " ".join("%.1f" % vd["iops"][k] for k in ("median", "min", "max")),
                pv["exits_per_io"]["median"], vd["exits_per_io"]["median"]))
    with open(os.path.join(outdir, "clock.dat"), "w") as f:
        f.write("# clocksource ns min max\n")
        for s in clock:
            m = s["ns_per_read"]
            f.write("%s %.1f %.1f %.1f\n" % (s["clocksource"], m["median"],
                                              m["min"], m["max"]))
    with open(os.path.join(outdir, "net.dat"), "w") as f:
        f.write("# workload pvnet-exits/packet virtio-exits/packet\n")
        for wl in NET_WORKLOADS:
            pv = next((s for s in net if s["workload"] == wl and s["dev"] == "pvnet0"), None)
            vd = next((s for s in net if s["workload"] == wl and s["dev"] != "pvnet0"), None)
            if pv and vd:
                f.write("%s %.3f %.3f\n" % (wl, pv["exits_per_pkt"]["median"],
                                             vd["exits_per_pkt"]["median"]))
    gp = """set terminal pngcairo size 900,480 noenhanced
set style data histograms
set style fill solid 0.8 border -1
set key top left
set grid ytics
set yrange [0:*]
set xtics rotate by -30
set datafile missing 'nan'
"""
    # (PNG, condition, plot): the charts there is data for.
    plots = [
        ("ratios.png", block or net or clock, """set style histogram clustered gap 2
set title 'pvchan / virtio (clock: kvm-clock / pvchan-tsc read time), median; above 1: pvchan better'
plot 'ratios.dat' using 2:xtic(1) title 'ratio', 1 with lines dt 2 lc rgb 'black' notitle
"""),
        ("block-iops.png", block, """set style histogram errorbars gap 2 lw 1
set title '4k IOPS in L2, median of runs (bars: min-max)'
plot 'block.dat' using 2:3:4:xtic(1) title 'pvblk', '' using 5:6:7 title 'virtio-blk'
"""),
        ("block-exits.png", block, """set style histogram clustered gap 2
set title 'L2 VM exits per 4k I/O (net of idle), median'
plot 'block.dat' using 8:xtic(1) title 'pvblk', '' using 9 title 'virtio-blk'
"""),
        ("net-exits.png", net, """set style histogram clustered gap 2
set title 'L2 VM exits per packet (net of idle), median'
plot 'net.dat' using 2:xtic(1) title 'pvnet', '' using 3 title 'virtio-net (vhost)'
"""),
        ("clock.png", clock, """set style histogram errorbars gap 2 lw 1
set title 'clock_gettime(CLOCK_MONOTONIC) in L2, ns per read (bars: min-max)'
plot 'clock.dat' using 2:3:4:xtic(1) title 'ns/read'
"""),
    ]
    # One gnuplot per chart: one without valid points (every run of a
    # device out of step, say) must not cost the others.
    pngs = []
    for png, cond, plot in plots:
        if not cond:
            continue
        script = gp + "set output '%s'\n%s" % (png, plot)
        try:
            subprocess.run(["gnuplot"], input=script.encode(), cwd=outdir,
                           check=True, stderr=subprocess.DEVNULL)
            pngs.append(png)
        except (OSError, subprocess.CalledProcessError) as e:
            print("bench-report: no %s (gnuplot: %s)" % (png, e), file=sys.stderr)
    return pngs



def main():
    rundir, outdir = sys.argv[1], sys.argv[2]
    snaps, results = load(rundir)
    idle = delta(snaps["idle"])
    idle_rate = {k: v / idle["t"] for k, v in idle.items()
                 if k.startswith("exit") and idle["t"] > 0}
    runs = block_runs(snaps, results, idle_rate)
    groups = {}
    for r in runs:
        groups.setdefault((r["rw"], r["iodepth"], r["jobs"], r["dev"]), []).append(r)
    block = [dict({"rw": rw, "iodepth": qd, "jobs": jobs, "dev": dev,
                   "runs": len(rs)}, **spread(rs, BLOCK_KEYS))
             for (rw, qd, jobs, dev), rs in sorted(groups.items())]
    nruns = net_runs(snaps, results, idle_rate)
    ngroups = {}
    for r in nruns:
        ngroups.setdefault((r["workload"], r["dev"]), []).append(r)
    net = [dict({"workload": wl, "dev": dev, "runs": len(rs)},
                **spread(rs, NET_KEYS))
           for (wl, dev), rs in sorted(ngroups.items())]
    cruns = clock_runs(snaps, results, idle_rate)
    order = ["pvchan-tsc", "pvchan-time", "kvm-clock", "tsc"]
    clock = []
    for cs in sorted({r["clocksource"] for r in cruns},
                     key=lambda c: order.index(c) if c in order else 9):
        rs = [r for r in cruns if r["clocksource"] == cs]
        clock.append(dict({"clocksource": cs, "runs": len(rs)},
                          **spread(rs, CLOCK_KEYS)))
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"idle_exits_per_s": idle_rate, "block": block, "net": net,
                   "clock": clock, "runs": runs, "net_runs": nruns,
                   "clock_runs": cruns}, f, indent=1)
    every = runs + nruns
    off = sum(1 for r in every if r["window_skew"] > MAX_SKEW)
    lines = ["L1's counters (exits, hypercalls, L1 CPU, taps) left out for %d of %d "
             "runs: their window as L1 saw it was more than %d%% longer or shorter "
             "than L2's." % (off, len(every), MAX_SKEW * 100), ""]
    lines += ["### Block", ""] + block_table(block)
    lines += ["", "### Network", ""] + net_table(net)
    lines += ["", "### Clock", ""] + clock_table(clock)
    pngs = charts(outdir, block, net, clock)
    if pngs:
        lines += ["", " ".join("![%s](%s)" % (p[:-4], p) for p in pngs)]
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
