from contextlib import _GeneratorContextManager

class Logger:
    def log(self, message: str, attributes: dict[str, str] = ...) -> None: ...
    def info(self, *args, **kwargs) -> None: ...  # type: ignore[no-untyped-def]
    def warning(self, *args, **kwargs) -> None: ...  # type: ignore[no-untyped-def]
    def error(self, *args, **kwargs) -> None: ...  # type: ignore[no-untyped-def]
    def nested(self, message: str, attributes: dict[str, str] = ...) -> _GeneratorContextManager: ...
    def subtest(self, name: str, attributes: dict[str, str] = ...) -> _GeneratorContextManager: ...

AbstractLogger = Logger
