# Scenario: the primary's host is starved of CPU for 20 s (almost seven lease TTLs) by busy
# processes at the daemons' own priority, as a runaway job on the host would. A primary that is
# only slow keeps its role: no failover, the same primary, nothing lost.
# In a VM the busy processes share the VM's own CPUs with its keeper and PostgreSQL. Under the
# namespace driver every host shares the machine's cores, so they slow every host (the other
# keeper and the coordinator too): a harsher test of the same rule.
SCENARIO = "cpu-starved"
BUSY = 4
SECONDS = 20


def fault(host1):
    # Each ends by itself (timeout), so a failed step cannot leave them running.
    host1.succeed(f"for i in $(seq {BUSY}); do setsid timeout {SECONDS} sh -c 'while :; do :; done' >/dev/null 2>&1 & done")
    busy = int(host1.succeed("pgrep -c -f 'while :; do :; done' || true").strip() or 0)
    assert busy >= BUSY, f"only {busy} busy processes started on {host1.name}"
    time.sleep(SECONDS + 1)


primary_keeps_its_role(SCENARIO, lambda host1: f"{BUSY} busy processes on {host1.name} for {SECONDS} s", fault)
