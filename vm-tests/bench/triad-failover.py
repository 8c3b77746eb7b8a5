# scripts/bench-failover, Triad's side: BENCH_RUNS (default 10) losses of the primary's host,
# each a power cut (the namespace driver's crash(): link down first, then every process
# killed), with Triad's default timings. The scenarios' client workload writes numbered rows
# through the external balancer and the engines throughout (a fresh connection per write);
# for each loss, the time from the kill to the first write acknowledged that was sent after
# it. The lost host is started again and rejoins as a standby before the next loss, so the
# primary alternates between the two app hosts. At the end every acknowledged number is looked
# up in the change log and in both engines. Prints `BENCH triad failover_s=[...] lost_writes=N`.
import json

RUNS = int(os.environ.get("BENCH_RUNS", "10"))


def first_ack_after(t):
    text = client.succeed(f"cat {WORKLOAD_DIR}/ops.jsonl")
    ops = [json.loads(line) for line in text.splitlines() if line.strip().endswith("}")]
    done = [o["t1"] for o in ops if o["k"] == "write" and o["ok"] and o["t0"] >= t]
    return min(done) if done else None


cluster_serving()
start_workload()
times = []
for i in range(RUNS):
    host1, host2 = primary_and_standby()
    wait_sync_standby(host1, [host2])
    wait_balancer_routes_to(host1, host2)
    workload_progresses()
    killed = time.time()
    host1.crash()
    retry(lambda _l: first_ack_after(killed) is not None, 120)
    took = first_ack_after(killed) - killed
    times.append(round(took, 2))
    note(f"BENCH run {i + 1}/{RUNS}: {host1.name} lost; first acknowledged write after {took:.2f} s")
    host1.start()
    wait_for_standby(host1)
    wait_engine_serving(host1)

summary = stop_workload()
leader = primary()
lost = len(set(summary["acked"]) - {int(x) for x in db_query(leader, LOG_WRITES) if x.strip()})
engines_ok = True
try:
    check_acknowledged_writes(summary, [app1, app2])
except AssertionError as e:
    note(f"BENCH {e}")
    engines_ok = False
print(f"BENCH triad failover_s={json.dumps(times)} acked_writes={len(summary['acked'])} lost_writes={lost}{'' if engines_ok else ' (an engine misses some)'}", flush=True)
