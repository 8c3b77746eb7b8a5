"""What NixOS's switch-to-configuration does with the services of two configurations: which
units it stops, starts, restarts and reloads. One implementation, used by the namespace
driver's supervisor (triad-switch-config) and by scripts/check-nix on the units the NixOS
modules render, so both apply the same rule to the same unit definitions.

A unit is a dict of sections as switch-to-configuration reads the unit file: {"Unit": {...},
"Service": {...}} plus "enable" and "wantedBy" (NixOS installs those as symlinks, not as unit
file lines). The rule (nixpkgs' switch-to-configuration-ng, compare_units and the handling of
X-RestartIfChanged / X-ReloadIfChanged / X-StopIfChanged):

- a unit only in the new configuration is started (if something wants it);
- a unit only in the old one, or disabled in the new one, is stopped;
- a unit whose file is unchanged is left alone;
- a unit whose file differs only in X-Reload-Triggers (or in [Unit] keys that do not affect
  the running service: Description, Documentation, ...) is reloaded;
- any other difference restarts it, unless X-RestartIfChanged=false (left alone) or
  X-ReloadIfChanged=true (reloaded instead).

Standard library only."""

# [Unit] keys whose change needs neither a restart nor a reload (compare_units).
UNIT_KEYS_IGNORED = {
    "Description", "Documentation", "OnFailure", "OnSuccess", "OnFailureJobMode", "IgnoreOnIsolate",
    "StopWhenUnneeded", "RefuseManualStart", "RefuseManualStop", "AllowIsolate", "CollectMode", "SourcePath",
}
NOT_IN_FILE = {"enable", "wantedBy"}


def compare(old, new):
    """'equal', 'reload' or 'restart' for two definitions of one unit."""
    result = "equal"
    for section in sorted((set(old) | set(new)) - NOT_IN_FILE):
        a, b = old.get(section), new.get(section)
        if a == b:
            continue
        if a is None or b is None:
            return "restart"
        for key in sorted(set(a) | set(b)):
            if a.get(key) == b.get(key):
                continue
            if section == "Unit" and key in UNIT_KEYS_IGNORED:
                continue
            if section == "Unit" and key == "X-Reload-Triggers":
                result = "reload"
                continue
            return "restart"
    return result


def flag(unit, key, default):
    value = unit.get("Unit", {}).get(key, default)
    return value in (True, "true", "1", "yes")


def plan(old_units, new_units, active=None):
    """{'stop': [...], 'start': [...], 'restart': [...], 'reload': [...], 'unchanged': [...]}.
    `active`: names of units running now (default: every enabled unit of the old configuration)."""
    if active is None:
        active = {n for n, u in old_units.items() if u.get("enable", True)}
    out = {"stop": [], "start": [], "restart": [], "reload": [], "unchanged": []}
    for name in sorted(set(old_units) | set(new_units)):
        old, new = old_units.get(name), new_units.get(name)
        enabled = new is not None and new.get("enable", True)
        if not enabled:
            if name in active:
                out["stop"].append(name)
            continue
        if old is None or name not in active:
            if new.get("wantedBy"):
                out["start"].append(name)
            continue
        change = compare(old, new)
        if change == "restart":
            if not flag(new, "X-RestartIfChanged", True):
                change = "equal"
            elif flag(new, "X-ReloadIfChanged", False):
                change = "reload"
        out["unchanged" if change == "equal" else change].append(name)
    return out
