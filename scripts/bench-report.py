#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: turn the raw data of tests/bench/bench-l1.sh (snap.log: L1's
counters at the start and end of every run; l2.log: fio's summary per run)
into results.json and bench.md in OUTDIR.

    bench-report.py RUNDIR OUTDIR

Per run (a window in steady state): IOPS (the disk's own counts in L2),
mean and p99 completion latency (fio, whole run), and per I/O:
VM exits (all, and by reason, net of the idle guest's rate measured first),
pvchan hypercalls, the disk's interrupts in L2, L1's busy CPU time.  Per
workload and device: the median of the runs and their spread (min-max)."""
import json
import os
import statistics
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
                results[" ".join(w[:5])] = parse_kv(w[5:])
    return snaps, results


def delta(s):
    b, e = s["begin"], s["end"]
    return {k: e.get(k, 0) - b.get(k, 0) for k in e}


def main():
    rundir, outdir = sys.argv[1], sys.argv[2]
    snaps, results = load(rundir)
    idle = delta(snaps["idle"])
    idle_rate = {k: v / idle["t"] for k, v in idle.items()
                 if k.startswith("exit") and idle["t"] > 0}
    runs = []
    for tag, r in results.items():
        dev, rw, qd, jobs, rep = tag.split()
        d = delta(snaps[tag])
        ios = r.get("ios", 0) or 1
        net = {k: max(d.get(k, 0) - idle_rate.get(k, 0) * d["t"], 0)
               for k in d if k.startswith("exit")}
        reasons = {SVM_EXITS.get(int(k[5:]), k[5:]): v / ios
                   for k, v in net.items() if k.startswith("exit_") and v > 0}
        runs.append({
            "dev": dev, "rw": rw, "iodepth": int(qd), "jobs": int(jobs),
            "rep": int(rep), "iops": r.get("iops", 0),
            "lat_us": r.get("lat_us", 0), "p99_us": r.get("p99_us", 0),
            "exits_per_io": net.get("exits", 0) / ios,
            "exits_per_io_by_reason": reasons,
            "hypercalls_per_io": d.get("hypercalls", 0) / ios,
            "irqs_per_io": r.get("irqs", 0) / ios,
            "l1_cpu_us_per_io": d.get("l1_busy_ticks", 0) * 1e4 / ios,
        })
    keys = ["iops", "lat_us", "p99_us", "exits_per_io", "hypercalls_per_io",
            "irqs_per_io", "l1_cpu_us_per_io"]
    groups = {}
    for r in runs:
        groups.setdefault((r["rw"], r["iodepth"], r["jobs"], r["dev"]), []).append(r)
    summary = []
    for (rw, qd, jobs, dev), rs in sorted(groups.items()):
        s = {"rw": rw, "iodepth": qd, "jobs": jobs, "dev": dev, "runs": len(rs)}
        for k in keys:
            v = [r[k] for r in rs]
            s[k] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
        summary.append(s)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"idle_exits_per_s": idle_rate, "summary": summary,
                   "runs": runs}, f, indent=1)
    by = {(s["rw"], s["iodepth"], s["jobs"], s["dev"]): s for s in summary}
    lines = ["| workload | device | IOPS (min-max) | pv/virtio | lat us | p99 us "
             "| exits/IO | hypercalls/IO | irqs/IO | L1 CPU us/IO |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (rw, qd, jobs, dev), s in sorted(by.items(), key=lambda x: x[0]):
        other = by.get((rw, qd, jobs, "vda"))
        ratio = (s["iops"]["median"] / other["iops"]["median"]
                 if dev == "pvda" and other and other["iops"]["median"] else None)
        lines.append("| 4k %s qd%d x%d | %s | %.0f (%.0f-%.0f) | %s | %.0f | %.0f "
                     "| %.2f | %.2f | %.2f | %.0f |" % (
                         rw, qd, jobs, "pvblk" if dev == "pvda" else "virtio-blk",
                         s["iops"]["median"], s["iops"]["min"], s["iops"]["max"],
                         "%.2fx" % ratio if ratio else "",
                         s["lat_us"]["median"], s["p99_us"]["median"],
                         s["exits_per_io"]["median"], s["hypercalls_per_io"]["median"],
                         s["irqs_per_io"]["median"], s["l1_cpu_us_per_io"]["median"]))
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
