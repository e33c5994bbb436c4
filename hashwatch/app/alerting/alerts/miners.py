"""Alerts on single miners: down, hashing too little, broken boards and chips, heat, fans, shares, faults.

A miner is `instance` and `miner` together (promql.MINER): every join is
`on(instance, miner)`, and with `group_left` or `and`/`unless` so the
target's own labels (site, rack, ...) stay on the alert. Alertmanager
inhibits a miner's other alerts while MinerDown fires for it (same instance
and miner), and MinerDown while SiteMinersDown fires for its site.
"""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import MINER, per_model, quoted, series, without_models

# The miner in a description: its `miner` label in fleet mode, its `instance` through /probe.
WHO = "{{ or $labels.miner $labels.instance }}"


def group(config: AlertingConfig) -> Group:
    m = config.miner_selector
    up = series("miner_up", m)
    hashrate = series("miner_hashrate_hashes_per_second", m)
    expected = series("miner_expected_hashrate_hashes_per_second", m)
    mining = series("miner_mining", m)
    paused = f"unless on({MINER}) {mining} == 0"
    keep = config.keep_firing_for

    def temperature(sensor: str) -> str:
        # Hottest reading of that kind per board (inlet: board ""); sensor is dropped, every other label kept.
        return f"max without (sensor) ({series('miner_temperature_celsius', m, 'sensor=' + quoted(sensor))})"

    def hotter(sensor: str, field: str) -> str:
        return per_model(config, field, f"{temperature(sensor)} > $threshold")

    def warning(sensor: str, kind: str) -> str:
        # Past the warning threshold, or past the critical one where a model sets that lower than
        # the warning it inherits (a model with critical 77 must not stay silent at 80 until 85).
        expr = hotter(sensor, f"{kind}_temperature_warning_celsius")
        critical = f"{kind}_temperature_critical_celsius"
        if any(getattr(model, critical) is not None for model in config.models):
            expr = f"(\n{expr}\n)\nor\n(\n{hotter(sensor, critical)}\n)"
        return expr

    def temperature_alert(name: str, sensor: str, field: str, severity: str, what: str, runbook: str) -> Alert:
        kind = field.split("_")[0]
        return Alert(
            name,
            warning(sensor, kind) if severity == "warning" else hotter(sensor, field),
            severity=severity,
            summary=f"A miner's {what} temperature is {'critical' if severity == 'critical' else 'high'}.",
            description=(
                f"{what.capitalize()} temperature of {WHO}"
                "{{ with $labels.board }} board {{ . }}{{ end }} is {{ $value }} °C."
            ),
            runbook=runbook,
            for_=config.temperature_for,
            keep_firing_for=keep,
        )

    chip_check = (
        "- Look at the miner's fans (`miner_fan_speed_rpm`) and inlet temperature: a hot room or a "
        "failed fan heats every board; one hot board alone points at that board (dust, a loose heatsink, "
        "dried thermal paste).\n"
        "- Check airflow: intake not blocked, no hot exhaust recirculating from another row, filters clean.\n"
        "- For hydro and immersion models: coolant flow, pump and dry-cooler (their thresholds are set per "
        "model in `alerting.models`)."
    )

    return Group(
        "hashwatch.miners",
        title="Miners",
        dashboard=links.MINER,
        rules=(
            Alert(
                "MinerDown",
                f"{up} == 0",
                severity="critical",
                summary="A miner does not answer its API.",
                description=(
                    f"{WHO} has not answered its CGMiner API for "
                    f"{config.miner_down_for}."
                ),
                runbook=(
                    "The exporter could not scrape the miner's CGMiner API (TCP 4028), or its reply did not parse. "
                    "It may still be hashing, but nothing about it is known: its other alerts are inhibited.\n\n"
                    "- `miner_scrape_error` gives the `reason`: `connection_refused` (the API is off or the mining "
                    "process is restarting), `connect_timeout` or `unreachable` (the miner is off, or its network "
                    "is gone: PDU, switch port, VLAN), `read_timeout`/`timeout` (the miner is overloaded or the "
                    "scrape timeout is too short), `malformed_reply`/`api_error` (firmware problem).\n"
                    "- Ping it, open its web interface, check the PDU outlet and the switch port.\n"
                    "- Check the pool side: if the worker still submits shares on the pool, only the API is down.\n"
                    "- Power-cycle it if it is hung; if it does not come back, send someone on site.\n"
                    "- Many miners of one site down at once is SiteMinersDown: look for a site-wide cause "
                    "(power, network, cooling) first."
                ),
                for_=config.miner_down_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerHashrateZero",
                f"{hashrate} == 0\nand on({MINER}) {up} == 1\n{paused}",
                severity="critical",
                summary="A reachable miner hashes nothing.",
                description=f"{WHO} answers its API but has reported a hashrate of 0 H/s for 10 minutes.",
                runbook=(
                    "The miner is powered and its API answers, but it produces no hashrate (and is not paused: "
                    "a paused miner is MinerNotMining).\n\n"
                    "- Check its pools (`miner_pool_up`, `miner_pool_active`): no alive pool means no work. "
                    "Fix the pool URL, the worker name, DNS or the outbound firewall.\n"
                    "- Check the boards (`miner_board_hashrate_hashes_per_second`, `miner_board_chips`) and the "
                    "miner's log: every board failing at once points at the PSU or the control board.\n"
                    "- Check temperatures and `miner_fault`: the firmware may have stopped the boards after "
                    "overheating.\n"
                    "- Restart the mining process or reboot the miner; if it stays at 0, open a repair ticket "
                    "(PSU, control board, hashboards)."
                ),
                for_=config.miner_hashrate_zero_for,
            ),
            Alert(
                "MinerHashrateLow",
                f"(\n  {hashrate}\n  / on({MINER}) group_left\n  {expected}\n) < {config.hashrate_low_ratio} > 0\n{paused}",
                severity="warning",
                summary="A miner hashes well below its expected hashrate.",
                description=(
                    f"{WHO} hashes at {{{{ $value | humanizePercentage }}}} of its expected hashrate "
                    f"(below {config.hashrate_low_ratio * 100:g} % for {config.hashrate_low_for})."
                ),
                runbook=(
                    "The miner hashes, but clearly less than its nominal hashrate "
                    "(`miner_expected_hashrate_hashes_per_second`).\n\n"
                    "- Compare its boards (`miner_board_hashrate_hashes_per_second`): one board low or at 0 "
                    "(MinerHashboardDead, MinerChipsMissing) explains a third of the loss.\n"
                    "- Check temperatures: a hot miner throttles its frequency (`miner_board_frequency_hertz`).\n"
                    "- Check the power limit or tuning profile (`miner_power_limit_watts`): a low-power profile "
                    "or an autotuner still tuning hashes less on purpose.\n"
                    "- Check hardware errors (`miner_hardware_errors_total`) and reject ratio.\n"
                    "- If nothing explains it: restart the mining process; if it persists, open a repair ticket."
                ),
                for_=config.hashrate_low_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerHashboardDead",
                "max without () (\n"
                f"  {series('miner_board_hashrate_hashes_per_second', m)} == 0\n"
                f"  or\n  {series('miner_board_chips', m)} == 0\n"
                f")\nand on({MINER}) {hashrate} > 0",
                severity="critical",
                summary="A hashboard of a hashing miner is dead.",
                description=(
                    f"Board {{{{ $labels.board }}}} of {WHO} has hashed nothing (0 H/s or no chips answering) "
                    "for 10 minutes while the miner's other boards hash."
                ),
                runbook=(
                    "One hashboard reports 0 H/s or no chips while the rest of the miner hashes: the miner runs "
                    "at about a third less.\n\n"
                    "- Read the miner's kernel log for the chain: `chain N: no chips found`, `EEPROM error`, "
                    "`PIC`, `voltage` or `temperature sensor` errors.\n"
                    "- Check `miner_temperature_celsius` of that board: a board cut off for overheating reads "
                    "0 H/s.\n"
                    "- Reboot the miner once: boards that failed to initialise often come back.\n"
                    "- If not: power off, reseat the board's data ribbon and power connectors, check the PSU "
                    "rail; swap the board with a known-good one to tell board from control board. Open a "
                    "repair ticket for the board."
                ),
                for_=config.miner_hashboard_dead_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerChipsMissing",
                f"(\n  {series('miner_board_expected_chips', m)}\n"
                f"  - on({MINER}, board) group_left\n  {series('miner_board_chips', m)}\n) > 0",
                severity="warning",
                summary="Chips of a hashboard do not answer.",
                description=(
                    f"{{{{ $value }}}} chips of board {{{{ $labels.board }}}} of {WHO} do not answer "
                    "(fewer than the board reported at start-up)."
                ),
                runbook=(
                    "Fewer chips answer on a board than it reported at start-up (`miner_board_expected_chips`, "
                    "from `chain_acn` or the chip map). Each missing chip is lost hashrate, and a chain with "
                    "missing chips often degrades further.\n\n"
                    "- Look at the chip map (`chain_acsN` in the miner's stats: `x` marks a dead chip) and the "
                    "board's temperature and hardware errors.\n"
                    "- Reboot the miner: chips dropped by a brown-out often return.\n"
                    "- If the same chips stay missing, plan a board repair (chip or voltage-domain replacement); "
                    "if the number keeps growing, replace the board soon."
                ),
                for_=config.miner_chips_missing_for,
            ),
            temperature_alert(
                "MinerChipTemperatureHigh",
                "chip",
                "chip_temperature_warning_celsius",
                "warning",
                "chip",
                "The hottest chip of a board is above the warning threshold for its model. Chips this hot "
                "throttle, age faster and throw more hardware errors.\n\n"
                + chip_check
                + "\n- Lower the frequency or power profile until the cause is fixed.",
            ),
            temperature_alert(
                "MinerChipTemperatureCritical",
                "chip",
                "chip_temperature_critical_celsius",
                "critical",
                "chip",
                "The hottest chip of a board is at the critical threshold for its model: the firmware will soon "
                "cut the board off, and chips can be damaged.\n\n"
                + chip_check
                + "\n- Act now: switch to a low-power profile or stop the miner until cooling is fixed.",
            ),
            temperature_alert(
                "MinerBoardTemperatureHigh",
                "pcb",
                "board_temperature_warning_celsius",
                "warning",
                "board",
                "A hashboard's PCB sensor reads above the warning threshold.\n\n"
                + chip_check
                + "\n- Lower the frequency or power profile until the cause is fixed.",
            ),
            temperature_alert(
                "MinerBoardTemperatureCritical",
                "pcb",
                "board_temperature_critical_celsius",
                "critical",
                "board",
                "A hashboard's PCB sensor reads at the critical threshold: the firmware will soon shut the "
                "board down, and solder joints and voltage regulators suffer.\n\n"
                + chip_check
                + "\n- Act now: switch to a low-power profile or stop the miner until cooling is fixed.",
            ),
            Alert(
                "MinerInletTemperatureHigh",
                f"{temperature('inlet')} > {config.inlet_temperature_warning_celsius:g}",
                severity="warning",
                summary="The air (or coolant) entering a miner is too hot.",
                description=f"Inlet temperature of {WHO} is {{{{ $value }}}} °C.",
                runbook=(
                    "What enters the miner is already hot: the cause is the room, not the miner. Several miners "
                    "of the same row or site alerting together confirm it.\n\n"
                    "- Check the room's cooling: exhaust fans, evaporative pads, louvres, the hot/cold aisle "
                    "separation, recirculation of exhaust air.\n"
                    "- For hydro and immersion: coolant supply temperature, dry-cooler and pump.\n"
                    "- Until it is fixed, lower power profiles or curtail the least efficient miners of the site."
                ),
                for_=config.temperature_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerFanStopped",
                without_models(
                    config,
                    "fans",
                    f"{series('miner_fan_speed_rpm', m)} == 0\nand on({MINER}) {up} == 1\n{paused}",
                ),
                severity="critical",
                summary="A fan of a running miner has stopped.",
                description=f"Fan {{{{ $labels.fan }}}} of {WHO} reads 0 rpm.",
                runbook=(
                    "A fan reads 0 rpm while the miner runs: the miner will overheat within minutes, and most "
                    "firmwares stop hashing on a fan failure. Models without fans (hydro, immersion: "
                    "`fans: false` in `alerting.models`) never get this alert.\n\n"
                    "- Check the miner's temperatures now; if they climb, stop the miner.\n"
                    "- On site: is the fan spinning (a stuck tachometer wire reads 0 on a spinning fan)? "
                    "Debris, a loose connector, a dead fan.\n"
                    "- Replace the fan (keep spares of each size), then restart the miner."
                ),
                for_=config.fan_stopped_for,
            ),
            Alert(
                "MinerRejectRatioHigh",
                f"{series('miner:miner_shares_rejected:ratio_rate15m', m)} > {config.reject_ratio_warning:g}",
                severity="warning",
                summary="A miner's pool rejects many of its shares.",
                description=(
                    f"{{{{ $value | humanizePercentage }}}} of the shares of {WHO} were rejected over 15 minutes."
                ),
                runbook=(
                    "The pool rejects more than the usual fraction of this miner's shares: that hashrate is "
                    "wasted.\n\n"
                    "- One miner only: hardware errors (`miner_hardware_errors_total`) and chip temperatures "
                    "(bad chips produce invalid shares), or a wrong or overloaded pool configuration on it.\n"
                    "- Many miners at once: the pool or the path to it (latency, packet loss, a stratum proxy "
                    "falling behind); stale shares rise with it (`miner:miner_shares_stale:ratio_rate15m`).\n"
                    "- Check the pool's status page, switch to a closer endpoint or the failover pool.\n"
                    "- If the miner's own hardware is the cause, lower its frequency or open a repair ticket."
                ),
                for_=config.miner_reject_ratio_high_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerHardwareErrorsHigh",
                f"rate({series('miner_hardware_errors_total', m)}[15m]) > {config.hardware_error_rate_warning:g}",
                severity="warning",
                summary="A miner reports many hardware errors.",
                description=f"{WHO} reports {{{{ $value | humanize }}}} hardware errors per second over 15 minutes.",
                runbook=(
                    "The miner's chips return many wrong results (hardware errors): wasted work, and a sign of a "
                    "failing board, overclocking or overheating. A reboot resets the counter and is not counted.\n\n"
                    "- `miner_board_hardware_errors_total` tells which board.\n"
                    "- Check that board's temperature, frequency and voltage: an aggressive tuning profile is "
                    "the usual cause.\n"
                    "- Lower the frequency or choose a more conservative profile; if errors stay high on one "
                    "board, open a repair ticket for it."
                ),
                for_=config.miner_hardware_errors_high_for,
                keep_firing_for=keep,
            ),
            Alert(
                "MinerRebooted",
                f"{series('miner_uptime_seconds', m)} < 600",
                severity="info",
                summary="A miner restarted.",
                description=f"The mining process of {WHO} started {{{{ $value | humanizeDuration }}}} ago.",
                runbook=(
                    "The miner's uptime is under 10 minutes: the miner or its mining process restarted "
                    "(power loss, watchdog, firmware update, someone rebooted it). A notice, never paged. It "
                    "also fires after a MinerDown, when the miner comes back.\n\n"
                    "- One restart: nothing to do.\n"
                    "- The same miner restarting again and again: check its PSU and power feed, its "
                    "temperatures before the restart, and the firmware's log (watchdog resets after a board "
                    "failure).\n"
                    "- Many miners at once: a power event at the site (check the PDUs and the utility feed)."
                ),
            ),
            Alert(
                "MinerFaultReported",
                f"{series('miner_fault', m)} == 1",
                severity="warning",
                summary="A miner's firmware reports a fault.",
                description=f"{WHO} reports fault code {{{{ $labels.code }}}}.",
                runbook=(
                    "The firmware (Avalon, VNish, Whatsminer) reports a fault code, one alert per code.\n\n"
                    "- Look the code up in the vendor's error-code table (Whatsminer: the MicroBT error code "
                    "list; Avalon: the Canaan error codes; VNish: its status page): it names the part (fan, "
                    "PSU, board, temperature sensor, network, pool).\n"
                    "- Act on that part: fans and PSUs are swapped on site, board codes mean a repair ticket, "
                    "temperature codes mean cooling.\n"
                    "- Codes that clear themselves after a reboot can be noted and watched."
                ),
                for_=config.miner_fault_reported_for,
            ),
            Alert(
                "MinerNotMining",
                f"{mining} == 0",
                severity="warning",
                summary="A miner is paused, sleeping or curtailed.",
                description=f"{WHO} has been paused, sleeping or curtailed for 15 minutes.",
                runbook=(
                    "The firmware says the miner is not mining on purpose (paused, sleep mode, curtailed), so it "
                    "earns nothing. A deliberate curtailment (demand response, a power cap, "
                    "`profitability_curtail_advised`) is silenced by Alertmanager's curtailment window: outside "
                    "it, this miner should be mining.\n\n"
                    "- Check who paused it: the miner's web interface or log, a fleet-management tool, a "
                    "power-management schedule left on.\n"
                    "- Check whether its firmware slept it after overheating or a power limit.\n"
                    "- Resume mining; if it is meant to stay off, silence it in Alertmanager with a comment."
                ),
                for_=config.miner_not_mining_for,
            ),
        ),
    )
