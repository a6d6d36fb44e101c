"""Summarize bench/fl_compare.sh runs: accuracy (mean of the last 5
evaluations; single evaluations swing 5-15 points at Dir(0.1)) against
cumulative client->server bytes, relative to FedAvg."""
import json
import sys
from pathlib import Path


def summarize(path):
    rows = [json.loads(line) for line in open(path)]
    evals = [r for r in rows if r.get("test_acc") is not None]
    last5 = evals[-5:]
    return {"rounds": rows[-1]["round"], "final_acc": evals[-1]["test_acc"],
            "mean_last5": sum(r["test_acc"] for r in last5) / len(last5),
            "cum_bytes": rows[-1]["cum_comm_bytes"],
            "seconds": sum(r["seconds"] for r in rows)}


def main(out_dir, variants):
    out = Path(out_dir)
    results = {v: summarize(out / v / "metrics.jsonl") for v in variants}
    base = results.get("fedavg", {}).get("cum_bytes")
    print(f"| {out.name} | rounds | final acc | mean of last 5 evals | cum. upload GB | vs fedavg | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for v, r in results.items():
        ratio = f"{r['cum_bytes'] / base:.3f}x" if base else "-"
        print(f"| {v} | {r['rounds']} | {r['final_acc']:.4f} | {r['mean_last5']:.4f} | "
              f"{r['cum_bytes'] / 1e9:.2f} | {ratio} | {r['seconds']:.0f} |")
    (out / "summary.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
