# Evaluates vm-tests/nixos (the flake's VM checks) with a stub runNixOSTest that returns what
# it was given, so scripts/check-nix can compare the VM tests with the scenarios CI runs.
{ lib }:
let
  fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  pkgs = {
    testers.runNixOSTest = t: { inherit (t) name globalTimeout testScript; nodes = builtins.attrNames t.nodes; };
    writeScriptBin = name: text: fake name;
    writeShellScriptBin = name: text: fake name;
    python3 = fake "python3";
  };
in
import ../../vm-tests/nixos { inherit pkgs lib; triadModules = [ ]; triadPackage = fake "triad"; }
