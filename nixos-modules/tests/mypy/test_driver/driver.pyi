from test_driver.machine import Machine

class Driver:
    machines: list[Machine]
    global_timeout: int
