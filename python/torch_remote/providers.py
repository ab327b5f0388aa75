"""Where a host comes from: one small interface, :class:`Provider`, behind
``torch_remote.connect(provider=...)``.

* ``local``: the embedded default, a ``torch-remote-host`` that the core starts on first use.
* ``host``: any running ``torch-remote-host``, by URL (``tcp://`` or ``tls://``) and token.
* ``modal``: a container on Modal with the chosen GPU (``modal-image/torch_remote_modal.py``),
  reached through Modal's TLS tunnel.

A new kind (RunPod, Ray, ...) is a class with ``start() -> Endpoint`` and ``stop()``, added
with :func:`register`; nothing in the dispatch path knows about providers.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import importlib.util
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from . import gpus

__all__ = [
    "ContainerFailed",
    "Endpoint",
    "HostProvider",
    "Launch",
    "LocalProvider",
    "ModalProvider",
    "Provider",
    "ProviderError",
    "make",
    "make_devices",
    "register",
    "start_all",
]

logger = logging.getLogger("torch_remote")

#: What Modal's client calls the deployed app, the host function and the endpoint Dict
#: (the same names as in modal-image/torch_remote_modal.py).
MODAL_APP = "torch-remote"
MODAL_FUNCTION = "serve"
MODAL_ENDPOINTS = "torch-remote-endpoints"
DEFAULT_IDLE_TIMEOUT_S = 600
#: How long a container may take to come up: a cold GPU, the image pulled.
DEFAULT_STARTUP_TIMEOUT_S = 900


class ProviderError(RuntimeError):
    """A provider could not give a host."""


class ContainerFailed(ProviderError):
    """The container that was to run the host stopped or failed before it was reachable."""


@dataclass(frozen=True)
class Endpoint:
    """A host to attach to. ``url`` None: the embedded local host, started by the core."""

    url: str | None
    token: str | None

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"Endpoint(url={self.url!r}, token={'***' if self.token else None})"


class Provider(abc.ABC):
    """Gives a host: ``start`` returns where it is, ``stop`` lets it go."""

    name: ClassVar[str]

    @abc.abstractmethod
    def start(self) -> Endpoint:
        """Starts a host, or finds a running one, and says where it is."""

    def stop(self) -> None:  # noqa: B027 (a provider with nothing to release keeps this)
        """Releases what ``start`` started (nothing by default)."""

    def at_exit(self) -> None:
        """Called when Python exits; by default the same as ``stop``."""
        self.stop()

    def describe(self) -> str:
        return self.name

    def same_as(self, other: Provider) -> bool:
        """Whether ``other``, just made, asks for the host this one already gives (then
        ``connect`` keeps this one, and its host)."""
        return False


def say(message: str, *, verbose: bool = True) -> None:
    """A start-up progress line: logged, and printed to stderr unless quiet."""
    logger.info(message)
    if verbose:
        print(f"torch-remote: {message}", file=sys.stderr, flush=True)


class LocalProvider(Provider):
    """The embedded default: the core starts ``torch-remote-host`` on first use."""

    name = "local"

    def start(self) -> Endpoint:
        return Endpoint(None, None)


class HostProvider(Provider):
    """A ``torch-remote-host`` already running somewhere, by URL and token."""

    name = "host"

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        url = url or os.environ.get("TORCH_REMOTE_URL") or None
        token = token or os.environ.get("TORCH_REMOTE_TOKEN") or None
        if not url:
            raise ValueError(
                'provider="host" needs url= (tcp://host:port or tls://host:port) or '
                "TORCH_REMOTE_URL"
            )
        if not token:
            raise ValueError(f'provider="host" needs token= or TORCH_REMOTE_TOKEN for {url}')
        self.url, self.token = url, token

    def start(self) -> Endpoint:
        return Endpoint(self.url, self.token)

    def describe(self) -> str:
        return self.url


class Launch(Protocol):
    """One starting container, as the Modal provider watches it."""

    def published(self) -> str | None:
        """The host's URL once the container has published it."""

    def check(self) -> None:
        """Raises :class:`ContainerFailed` if the container has stopped or failed."""

    def cancel(self) -> None:
        """Stops the container."""

    def alive(self) -> bool:
        """Whether the container is still running."""


def wait_for_url(
    launch: Launch,
    *,
    timeout: float,
    what: str,
    poll: float = 0.5,
    progress_every: float = 30.0,
    verbose: bool = True,
) -> str:
    """Waits until ``launch`` publishes its URL, printing progress; raises
    :class:`ContainerFailed` if the container goes first, TimeoutError after ``timeout``."""
    started = time.monotonic()
    next_note = started + progress_every
    while True:
        url = launch.published()
        if url:
            return url
        launch.check()
        now = time.monotonic()
        if now - started > timeout:
            launch.cancel()
            raise TimeoutError(
                f"{what} was not reachable after {timeout:.0f} s; it was stopped "
                "(raise startup_timeout= if GPUs of this type are scarce)"
            )
        if now >= next_note:
            say(f"still waiting for {what} ({now - started:.0f} s)", verbose=verbose)
            next_note = now + progress_every
        time.sleep(poll)


def _import_modal() -> Any:
    try:
        import modal
    except ImportError as e:
        raise ProviderError(
            'provider="modal" needs the modal package: pip install modal, then modal setup'
        ) from e
    return modal


def check_modal_credentials(modal: Any) -> None:
    """Raises a clear error when no Modal token is configured (``modal setup``, or
    MODAL_TOKEN_ID and MODAL_TOKEN_SECRET)."""
    config = modal.config.config
    has_token = bool(config.get("token_id") and config.get("token_secret"))
    has_oauth = bool(config.get("oauth_refresh_token"))
    if not (has_token or has_oauth):
        raise ProviderError(
            "no Modal credentials: run `modal setup` (or `modal token new`), or set "
            "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"
        )


class _ModalLaunch:
    """A spawned call of the Modal host function, and the Dict entry it publishes."""

    def __init__(self, modal: Any, call: Any, endpoints: Any, key: str) -> None:
        self.modal, self.call, self.endpoints, self.key = modal, call, endpoints, key

    def published(self) -> str | None:
        entry = self.endpoints.get(self.key)
        return entry.get("url") if isinstance(entry, dict) else None

    def _result(self) -> tuple[bool, Any]:
        """(finished, result or exception)."""
        try:
            return True, self.call.get(timeout=0)
        except TimeoutError:  # Modal raises the builtin one while the call runs
            return False, None
        except Exception as e:
            return True, e

    def alive(self) -> bool:
        return not self._result()[0]

    def check(self) -> None:
        finished, result = self._result()
        if not finished:
            return
        if isinstance(result, self.modal.exception.OutputExpiredError):
            raise ContainerFailed("the Modal container stopped before its host was reachable")
        if isinstance(result, BaseException):
            raise ContainerFailed(
                f"the Modal container failed before its host was reachable: {result} "
                f"(see `modal app logs {MODAL_APP}`)"
            ) from result
        raise ContainerFailed(
            f"the host in the Modal container exited with status {result} before it was "
            f"reachable (see `modal app logs {MODAL_APP}`)"
        )

    def cancel(self) -> None:
        try:
            self.call.cancel()
        finally:
            try:
                self.endpoints.pop(self.key)
            except Exception:
                pass


class ModalProvider(Provider):
    """A ``torch-remote-host`` in a Modal container with ``gpu``, reached through Modal's
    TLS tunnel. Uses the deployed app (``modal deploy modal-image/torch_remote_modal.py``),
    or, with ``app_file`` or TORCH_REMOTE_MODAL_APP naming that file, runs it ephemerally for
    as long as this process lives. The container stops after ``idle_timeout`` seconds
    without a client message. With a fixed token (``token=`` or TORCH_REMOTE_TOKEN), a host
    started by an earlier process for the same GPU is reused while it runs."""

    name = "modal"

    def __init__(
        self,
        gpu: str = "T4",
        *,
        token: str | None = None,
        idle_timeout: int | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        app_name: str = MODAL_APP,
        app_file: str | os.PathLike | None = None,
        verbose: bool = True,
    ) -> None:
        self.gpu = gpus.parse_gpu(gpu)
        if idle_timeout is None:
            idle_timeout = int(os.environ.get("TORCH_REMOTE_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT_S))
        if int(idle_timeout) < 1:
            raise ValueError(f"idle_timeout must be at least 1 second (got {idle_timeout})")
        self.idle_timeout = int(idle_timeout)
        self.fixed_token = token or os.environ.get("TORCH_REMOTE_TOKEN") or None
        self.token = self.fixed_token or secrets.token_hex(24)
        self.startup_timeout = startup_timeout
        self.app_name = app_name
        app_file = app_file or os.environ.get("TORCH_REMOTE_MODAL_APP") or None
        self.app_file = Path(app_file) if app_file else None
        self.verbose = verbose
        self.endpoint: Endpoint | None = None
        self._launch_handle: Launch | None = None
        self._ephemeral: Any = None

    def describe(self) -> str:
        return f"Modal {self.gpu}"

    def same_as(self, other: Provider) -> bool:
        return (
            type(other) is type(self)
            and (other.gpu, other.app_name, other.app_file, other.idle_timeout)
            == (self.gpu, self.app_name, self.app_file, self.idle_timeout)
            and other.fixed_token in (None, self.fixed_token)
        )

    @property
    def key(self) -> str:
        """Where the container publishes its URL: per GPU and token, so only a client that
        holds the token finds (and reuses) the host."""
        digest = hashlib.sha256(f"{self.app_name}\0{self.token}".encode()).hexdigest()[:24]
        return f"{self.gpu.modal}-{digest}"

    def function_options(self) -> dict[str, Any]:
        """What ``with_options`` gets for one call: the GPU and the token (as an env secret)."""
        return {"gpu": self.gpu.modal, "env": {"TORCH_REMOTE_TOKEN": self.token}}

    def _say(self, message: str) -> None:
        say(message, verbose=self.verbose)

    def _function(self, modal: Any) -> Any:
        """The host function: from the app file run ephemerally, or the deployed one."""
        if self.app_file is not None:
            if not self.app_file.exists():
                raise ProviderError(f"TORCH_REMOTE_MODAL_APP={self.app_file} does not exist")
            spec = importlib.util.spec_from_file_location("torch_remote_modal", self.app_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self._say(
                f"running the Modal app from {self.app_file} (building its image if it changed; "
                "the first build takes several minutes)"
            )
            stack = contextlib.ExitStack()
            if self.verbose:
                stack.enter_context(modal.enable_output())
            stack.enter_context(module.app.run())
            self._ephemeral = stack
            return getattr(module, MODAL_FUNCTION)
        self._say(f"looking up the deployed Modal app {self.app_name!r}")
        function = modal.Function.from_name(self.app_name, MODAL_FUNCTION)
        try:
            function.hydrate()
        except modal.exception.NotFoundError as e:
            raise ProviderError(
                f"the Modal app {self.app_name!r} is not deployed: run `modal deploy "
                "modal-image/torch_remote_modal.py` from a torch-remote checkout, or set "
                "TORCH_REMOTE_MODAL_APP=path/to/modal-image/torch_remote_modal.py to run it "
                "without deploying"
            ) from e
        return function

    def _launch(self) -> Launch:
        """Starts (or finds) the container; the Modal-specific half of ``start``."""
        modal = _import_modal()
        check_modal_credentials(modal)
        function = self._function(modal)
        endpoints = modal.Dict.from_name(MODAL_ENDPOINTS, create_if_missing=True)
        entry = endpoints.get(self.key) if self.fixed_token else None
        if isinstance(entry, dict) and entry.get("call"):
            previous = _ModalLaunch(
                modal, modal.FunctionCall.from_id(entry["call"]), endpoints, self.key
            )
            if previous.alive() and previous.published():
                self._say(f"reusing the running {self.gpu} host")
                return previous
        self._say(
            f"starting a container with {self.gpu} on Modal (a cold start of a GPU type can "
            "take minutes)"
        )
        call = function.with_options(**self.function_options()).spawn(self.key, self.idle_timeout)
        self._say(f"container call {call.object_id} queued; waiting for its host and tunnel")
        return _ModalLaunch(modal, call, endpoints, self.key)

    def start(self) -> Endpoint:
        if self.endpoint is not None and self._launch_handle is not None:
            if self._launch_handle.alive():
                return self.endpoint
        launch = self._launch()
        self._launch_handle = launch
        url = wait_for_url(
            launch,
            timeout=self.startup_timeout,
            what=f"the {self.gpu} host",
            verbose=self.verbose,
        )
        self._remember(launch)
        self._say(f"host up at {url} (stops after {self.idle_timeout} s without ops)")
        self.endpoint = Endpoint(url, self.token)
        return self.endpoint

    def _remember(self, launch: Launch) -> None:
        """Records the call beside the URL, so a later process can check it still runs."""
        if isinstance(launch, _ModalLaunch):
            try:
                entry = launch.endpoints.get(launch.key) or {}
                launch.endpoints[launch.key] = {**entry, "call": launch.call.object_id}
            except Exception as e:  # reuse is an optimisation
                logger.debug("could not record the call for reuse: %s", e)

    def stop(self) -> None:
        """Stops the container and, for an ephemeral app, the app."""
        launch, self._launch_handle, self.endpoint = self._launch_handle, None, None
        try:
            if launch is not None:
                launch.cancel()
        finally:
            if self._ephemeral is not None:
                stack, self._ephemeral = self._ephemeral, None
                stack.close()

    def at_exit(self) -> None:
        """A host with a fixed token outlives this process (until its idle timeout) so the
        next one can reuse it; one with a random token cannot be reused and is stopped."""
        if self.fixed_token and self._ephemeral is None:
            return
        self.stop()


_PROVIDERS: dict[str, Callable[..., Provider]] = {}


def register(name: str, factory: Callable[..., Provider]) -> None:
    """Adds a provider kind: ``factory(**options)`` makes one (options as ``make`` gets)."""
    _PROVIDERS[name.lower()] = factory


def _local(**_: Any) -> Provider:
    return LocalProvider()


def _host(*, url: str | None = None, token: str | None = None, **_: Any) -> Provider:
    return HostProvider(url, token)


def _modal(*, gpu: str | None = None, token: str | None = None, **options: Any) -> Provider:
    options.pop("url", None)
    return ModalProvider(gpu or "T4", token=token, **options)


register("local", _local)
register("host", _host)
register("modal", _modal)


def make(
    provider: str | Provider,
    *,
    url: str | None = None,
    token: str | None = None,
    gpu: str | None = None,
    memory_gb: float | None = None,
    min_compute: float | None = None,
    **options: Any,
) -> Provider:
    """The provider of one remote device, as ``connect(provider=...)`` makes it.
    ``gpu="auto"`` picks the smallest type with ``memory_gb`` (and ``min_compute``) by
    :func:`torch_remote.gpus.device_for`."""
    if isinstance(provider, Provider):
        return provider
    if gpu is None and (memory_gb is not None or min_compute is not None):
        gpu = "auto"
    if gpu is not None and gpu.strip().lower() == "auto":
        gpu = gpus.device_for(memory_gb or 0.0, min_compute)
    elif gpu is not None:
        gpus.parse_gpu(gpu)
    name = provider.strip().lower()
    factory = _PROVIDERS.get(name)
    if factory is None:
        raise ValueError(f"unknown provider {provider!r}; known: {', '.join(sorted(_PROVIDERS))}")
    if name in ("local", "host") and gpu is not None:
        raise ValueError(
            f'gpu={gpu!r} needs a provider that starts hosts (provider="modal"); '
            f'provider="{name}" computes wherever that host is'
        )
    return factory(url=url, token=token, gpu=gpu, **options)


def make_devices(
    provider: str | Provider,
    *,
    devices: int | list | None = None,
    gpu: str | None = None,
    url: str | None = None,
    **options: Any,
) -> list[Provider]:
    """The providers of ``remote:0``, ``remote:1``, ...: one without ``devices``; with a
    count, that many alike; with a list, one per entry, each entry a :class:`Provider` or
    what that device's ``url=`` is for ``provider="host"`` and its ``gpu=`` otherwise."""
    if devices is None:
        return [make(provider, gpu=gpu, url=url, **options)]
    if isinstance(devices, int) and not isinstance(devices, bool):
        if devices < 1:
            raise ValueError(f"devices={devices}: at least one remote device")
        return [make(provider, gpu=gpu, url=url, **options) for _ in range(devices)]
    devices = list(devices)
    if not devices:
        raise ValueError("devices=[] names no remote device")
    if gpu is not None:
        raise ValueError(f"gpu={gpu!r} and devices={devices}: give the GPU types in devices")
    by_url = isinstance(provider, str) and provider.strip().lower() == "host"
    made = []
    for entry in devices:
        if isinstance(entry, Provider):
            made.append(entry)
        elif by_url:
            made.append(make(provider, url=entry, **options))
        else:
            made.append(make(provider, gpu=entry, url=url, **options))
    return made


def start_all(chosen: list[Provider]) -> list[Endpoint]:
    """Starts every provider at once (cold GPUs take minutes each) and gives their endpoints
    in order; if one fails, those already started are stopped and its error raised."""
    if len(chosen) == 1:
        return [chosen[0].start()]
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = [pool.submit(p.start) for p in chosen]
        wait(futures)
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        for p, f in zip(chosen, futures, strict=True):
            if f.exception() is None:
                p.stop()
        raise failed[0]
    return [f.result() for f in futures]
