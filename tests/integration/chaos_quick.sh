#!/usr/bin/env bash
# Checks the whole system under random faults, briefly: tests/chaos/chaos.sh --quick (about 2 minutes, every fault kind at least three times: agent and rater SIGKILLed, uplink cut, agent store full, libvirtd restarted, a guest destroyed and started, the BMC stopped) ends with 0 deltas lost and 0 doubled between ground truth, the agents' ledgers and the rater. The seed is printed; HV_CHAOS_SEED=N replays a run.
set -u
cd "$(dirname "$0")/../.." || exit 1
exec bash tests/chaos/chaos.sh --quick ${HV_CHAOS_SEED:+--seed "$HV_CHAOS_SEED"}
