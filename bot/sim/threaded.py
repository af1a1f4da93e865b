"""Run the paper gateway in a background thread with its own event loop.

For tests whose client runs in the main loop (or in another process)::

    with ThreadedGateway(scenario="default", seed=1, start=..., speed=60) as gateway:
        ib.connect("127.0.0.1", gateway.port, clientId=1)
        gateway.faults.drop_connections()   # marshalled onto the gateway's loop

Every call through ``faults`` or ``call`` runs on the gateway's loop and returns its result (or raises
its exception) in the calling thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar, cast

from bot.sim.faults import Faults
from bot.sim.gateway import GatewayServer

T = TypeVar("T")
STARTUP_TIMEOUT = 60.0


class _FaultsProxy:
    def __init__(self, gateway: ThreadedGateway) -> None:
        self._gateway = gateway

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._gateway.server.faults, name)
        if not callable(target):
            return self._gateway.call(lambda: getattr(self._gateway.server.faults, name))

        def marshalled(*args: Any, **kwargs: Any) -> Any:
            return self._gateway.call(lambda: target(*args, **kwargs))

        return marshalled


class ThreadedGateway:
    def __init__(self, **options: Any) -> None:
        self.server = GatewayServer(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def faults(self) -> Faults:
        return cast(Faults, _FaultsProxy(self))

    def start(self) -> ThreadedGateway:
        self._thread = threading.Thread(target=self._run, name="alvh-paper-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT):
            raise TimeoutError("the paper gateway did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as error:
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, function: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``function`` on the gateway's loop and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the gateway is not running")
        result: Future[T] = Future()

        def run() -> None:
            try:
                result.set_result(function())
            except BaseException as error:
                result.set_exception(error)

        loop.call_soon_threadsafe(run)
        return result.result(timeout)

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        if loop.is_running():
            stopped = asyncio.run_coroutine_threadsafe(self.server.stop(), loop)
            stopped.result(30)
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(30)
        self._loop = None

    def __enter__(self) -> ThreadedGateway:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
