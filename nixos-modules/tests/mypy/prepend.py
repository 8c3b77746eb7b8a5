# The NixOS test driver's symbols and their types, as nixos/lib/test-script-prepend.py gives
# them to mypy before each VM test script (see README.md).
from typing import Callable, ContextManager, Optional, Union

from test_driver.driver import Driver
from test_driver.logger import Logger
from test_driver.machine import Machine
from test_driver.vlan import VLan
from typing_extensions import Protocol


class RetryProtocol(Protocol):
    def __call__(self, fn: Callable, timeout: int = 900) -> None: ...


class PollingConditionProtocol(Protocol):
    def __call__(self, fun_: Optional[Callable] = None, *, seconds_interval: float = 2.0,
                 description: Optional[str] = None) -> Union[Callable[[Callable], ContextManager], ContextManager]: ...


class CreateMachineProtocol(Protocol):
    def __call__(self, start_command: str | dict, *, name: Optional[str] = None, keep_vm_state: bool = False) -> Machine: ...


start_all: Callable[[], None]
subtest: Callable[[str], ContextManager[None]]
retry: RetryProtocol
test_script: Callable[[], None]
machines: list[Machine]
vlans: list[VLan]
driver: Driver
log: Logger
create_machine: CreateMachineProtocol
run_tests: Callable[[], None]
join_all: Callable[[], None]
serial_stdout_off: Callable[[], None]
serial_stdout_on: Callable[[], None]
polling_condition: PollingConditionProtocol
