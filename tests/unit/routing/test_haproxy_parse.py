"""Reading HAProxy 2.6's answers: `show servers state`, outputs of a command line, commands."""

from __future__ import annotations

import pytest

from relgate.errors import BadInput
from relgate.routing.haproxy_api import (
    AdminFlags,
    AdminState,
    OpState,
    _split,
    parse_servers_state,
    set_state,
    set_weight,
)
from relgate.routing.ports import RoutingError

HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
)
# what haproxy 2.6.12 printed: stable up at 100, canary draining at 25, one in maintenance
TABLE = "\n".join(
    [
        "1",
        HEADER,
        "3 app 1 stable 127.0.0.1 2 0 100 100 1 1 0 2 0 0 0 0 - 18081 - 0 0 - - 0",
        "3 app 2 canary 127.0.0.1 2 8 25 0 0 1 0 2 0 0 0 0 - 18082 - 0 0 - - 0",
        "3 app 3 spare 127.0.0.1 0 1 25 0 0 1 0 0 0 0 0 0 - 18083 - 0 0 - - 0",
    ]
)


def test_the_table_gives_each_servers_weight_and_states() -> None:
    stable, canary, spare = parse_servers_state(TABLE, backend="app", where="sock")

    assert (stable.name, stable.address, stable.weight, stable.op_state) == (
        "stable",
        "127.0.0.1",
        100,
        OpState.RUNNING,
    )
    assert (stable.serving, stable.detail) == (True, "up")
    assert (canary.admin, canary.serving, canary.detail) == (AdminFlags.FDRAIN, False, "up, drain")
    assert (spare.serving, spare.detail) == (False, "maintenance")


def test_a_server_at_weight_0_is_up_but_not_serving() -> None:
    [server] = parse_servers_state(
        "\n".join(["1", HEADER, TABLE.split("\n")[2].replace(" 2 0 100 100 ", " 2 0 0 100 ")]),
        backend="app",
        where="sock",
    )

    assert (server.weight, server.serving, server.detail) == (0, False, "up")


def test_haproxys_own_error_is_told_as_it_is() -> None:
    with pytest.raises(RoutingError, match=r"`show servers state pay`: Can't find backend\.$"):
        parse_servers_state("Can't find backend.", backend="pay", where="sock")


def test_a_header_without_a_needed_column_is_refused() -> None:
    with pytest.raises(RoutingError, match="lacks the columns srv_uweight"):
        parse_servers_state(
            "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n",
            backend="app",
            where="sock",
        )


def test_a_state_relgate_does_not_know_is_refused() -> None:
    line = TABLE.split("\n")[2].replace(" 2 0 100 100 ", " 9 0 100 100 ")
    with pytest.raises(RoutingError, match="a state or weight relgate does not know"):
        parse_servers_state("\n".join(["1", HEADER, line]), backend="app", where="sock")


@pytest.mark.parametrize(
    ("answer", "outputs"),
    [
        ("\n", [""]),
        ("\n\n", ["", ""]),
        ("No such server.\n\n\n7 (initial 0)\n\n", ["No such server.", "", "7 (initial 0)"]),
        ("", None),
        ("No such server.\n", None),
        ("1\n# header", None),
    ],
)
def test_an_answer_splits_into_one_output_per_command(
    answer: str, outputs: list[str] | None
) -> None:
    assert _split(answer) == outputs


def test_commands_are_built_from_checked_names() -> None:
    assert set_weight("app", "canary", 25) == ("set", "weight", "app/canary", "25")
    assert set_state("app", "blue", AdminState.DRAIN) == (
        "set",
        "server",
        "app/blue",
        "state",
        "drain",
    )
    with pytest.raises(BadInput, match="HAProxy weight 257 is not a whole number from 0 to 256"):
        set_weight("app", "canary", 257)
    with pytest.raises(BadInput, match=r"server 'a/b' is not an HAProxy name"):
        set_weight("app", "a/b", 1)
    with pytest.raises(BadInput, match=r"backend 'app\\n' is not an HAProxy name"):
        set_state("app\n", "b", AdminState.READY)
