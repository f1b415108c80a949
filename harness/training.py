"""The resumable training loop every learnable family shares (``trackbench train``).

A family supplies a ``Recipe``: its model and optimizer, its seeded data ``Stream`` (whose position
can be saved) and the loss of one batch; optionally a validation, a gradient-norm clip and how to
compile its model. ``train`` does the rest:

- one iteration = one batch: the loss (under autocast with ``amp``), backward, clipping, optimizer
  step;
- ``curve``: the mean of each loss term per ``log_every`` iterations; ``validation``: the recipe's
  metrics every ``validate_every`` iterations and at the last one (not counted as training time);
- a checkpoint every ``checkpoint_every`` iterations and at the last one, ``<out>/last``:
  ``last.pt`` + ``last.json`` (``harness.checkpoints``; beside them ``curve.json`` and
  ``validation.json``) and ``last.train.pt``, the training state (optimizer, the step's noise
  generator and carried tensors, the stream's state);
- ``<out>/best``: weights and card of the validation point that is best so far by the recipe's
  ``selection`` metric, the card's ``selected`` saying which (``publish_checkpoint(best=True)``
  publishes it);
- ``resume=True`` continues from them and gives the same weights and curve, bit for bit on CPU, as
  an uninterrupted run; ``max_minutes`` stops early, checkpointed, at the first curve point after
  that much wall-clock time, so a run can be trained in time slices;
- ``hardware``: one segment per call (a run, then each resume) with its iterations, device, device
  name, torch threads and version, compile mode, autocast dtype and speed, so a run trained partly
  on a CPU and partly on a GPU says so.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self, overload

import numpy as np
import torch
from torch import Tensor, nn

from harness.checkpoints import (
    atomic_write,
    load_checkpoint,
    load_tensors,
    save_checkpoint,
    write_json,
)
from harness.compiled import compile_forward
from harness.errors import ConfigError
from harness.provenance import device_name

CHECKPOINT_NAME = "last"
BEST_NAME = "best"
"""``<out>/best``: weights and card of the best validation point so far (``Recipe.selection``)."""
TRAIN_STATE_SUFFIX = ".train.pt"


class Stream(Protocol):
    """A seeded, endless source of training batches whose position can be saved and restored."""

    def next_batch(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]:
        """The position: tensors, numbers, strings and containers only (weights-only loading)."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class WorkerStream:
    """A stream whose batches ``workers`` processes make ahead of training (``Stream``).

    Worker i runs its own stream, ``make(seed_i)``, seed_i drawn from the i-th child of
    ``SeedSequence(seed)``, and the batches are taken from the workers in turn, each with its
    worker's stream state after it: the saved position is that of the batches taken, and the
    batches do not depend on timing, so a resume gives the same ones. A stream whose batches
    depend on the training (a curriculum fed the training IoU) cannot run here.
    """

    def __init__(
        self, make: Callable[[int], Stream], seed: int, workers: int, prefetch: int = 2
    ) -> None:
        if workers < 1 or prefetch < 1:
            raise ConfigError(f"need workers and prefetch >= 1, got {workers}, {prefetch}")
        self.make, self.prefetch = make, prefetch
        children = np.random.SeedSequence(seed).spawn(workers)
        self.seeds = [int(child.generate_state(1)[0]) for child in children]
        self.states: list[dict[str, Any] | None] = [None] * workers
        self.next = 0
        self._processes: list[Any] = []
        self._queues: list[Any] = []

    def next_batch(self) -> Any:
        if not self._processes:
            self._start()
        batch, self.states[self.next] = self._queues[self.next].get()
        self.next = (self.next + 1) % len(self.seeds)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"workers": len(self.seeds), "next": self.next, "states": list(self.states)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("workers") != len(self.seeds):
            raise ConfigError(
                f"the training state is of a stream of {state.get('workers') or 'no'} workers,"
                f" not {len(self.seeds)}; resume with as many"
            )
        self.close()
        self.next, self.states = int(state["next"]), list(state["states"])

    def close(self) -> None:
        """Stop the workers; the batches they made ahead are dropped (the next call restarts
        them from the position of the batches taken)."""
        for process in self._processes:
            process.terminate()
            process.join()
        self._processes, self._queues = [], []

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        for seed, state in zip(self.seeds, self.states):
            queue = context.Queue(self.prefetch)
            process = context.Process(
                target=_make_batches, args=(self.make, seed, state, queue), daemon=True
            )
            process.start()
            self._processes.append(process)
            self._queues.append(queue)


def _make_batches(
    make: Callable[[int], Stream], seed: int, state: dict[str, Any] | None, queue: Any
) -> None:
    """A ``WorkerStream`` worker: the batches of ``make(seed)`` from ``state`` on, each with the
    stream's state after it, into ``queue``, for ever."""
    torch.set_num_threads(1)
    stream = make(seed)
    if state is not None:
        stream.load_state_dict(state)
    while True:
        batch = stream.next_batch()
        queue.put((batch, stream.state_dict()))


def checked_hyperparameter(name: str, value: Any, default: Any) -> Any:
    """``value`` for hyper-parameter ``name`` if it is of its ``default``'s kind: a boolean, an
    integer, a number (made a float), text, or a list as long as the default's with items of
    their kinds (made the default's sequence type); a number whose default is non-negative must
    be too. A None default takes anything. Otherwise a ConfigError naming ``--hparam name``, the
    expected kind and the default."""

    def fits(value: Any, default: Any) -> bool:
        if default is None:
            return True
        if isinstance(default, bool) or isinstance(value, bool):
            return isinstance(default, bool) and isinstance(value, bool)
        if isinstance(default, (int, float)):
            if not isinstance(value, int) and not (
                isinstance(default, float) and isinstance(value, float)
            ):
                return False
            return default < 0 or value >= 0
        if isinstance(default, (list, tuple)):
            return (
                isinstance(value, (list, tuple))
                and len(value) == len(default)
                and all(fits(v, d) for v, d in zip(value, default))
            )
        return not isinstance(default, str) or isinstance(value, str)

    def kind_of(default: Any) -> str:
        if isinstance(default, bool):
            return "true or false"
        if isinstance(default, (int, float)):
            number = "an integer" if isinstance(default, int) else "a number"
            return number + (" >= 0" if default >= 0 else "")
        if isinstance(default, (list, tuple)):
            return f"a list of {len(default)}: " + ", ".join(kind_of(d) for d in default)
        return "text" if isinstance(default, str) else "a value"

    def converted(value: Any, default: Any) -> Any:
        if isinstance(default, float):
            return float(value)
        if isinstance(default, (list, tuple)):
            return type(default)(converted(v, d) for v, d in zip(value, default))
        return value

    if not fits(value, default):
        raise ConfigError(
            f"--hparam {name}: expected {kind_of(default)} (the default is {default!r}),"
            f" got {value!r}"
        )
    return converted(value, default)


@dataclass
class StepContext:
    """What a loss may use besides the model and the batch; saved with the training state.

    ``noise``: the generator of the step's random draws (seeded by the run's seed, on its device;
    draws from torch's global generator would not resume bit for bit). ``carry``: tensors a step
    leaves for the next one (e.g. a recurrent state, detached), empty at the start.
    """

    device: torch.device
    noise: torch.Generator
    carry: dict[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class RunData:
    """What a run is given besides the method's config and hyper-parameters: its folder
    ``out`` (where validation caches go), the dataset's folder and card ``params``, and how many
    frames to validate on (None: no validation)."""

    out: Path
    dataset_root: Path | None = None
    dataset_params: dict[str, Any] = field(default_factory=dict)
    validation_frames: int | None = None


class Recipe:
    """What a learnable family supplies to ``train`` (subclass it), registered as the method's
    ``recipe`` (``harness.registry``): ``hyperparameters`` names the training hyper-parameters
    of a method config with their defaults, ``from_method`` builds the recipe.

    ``card``: the head of every card of the run: ``method``, ``variant``, ``config`` (JSON-able; a
    resume refuses a checkpoint made with another) and ``data`` (what the stream is).
    ``frames_per_iteration``: the frames one batch holds (the segments' frames/s).
    ``clip_grad_norm``: the maximum gradient norm, None = no clipping.
    ``selection``: the validation metric that picks ``<out>/best`` and "max" or "min".
    ``worker_streams``: whether its stream can run in worker processes (``WorkerStream``).
    ``cuda_amp``: the autocast dtype of a run on a GPU (None: full precision).
    """

    card: dict[str, Any]
    frames_per_iteration: int
    clip_grad_norm: float | None = None
    selection: tuple[str, str] = ("IoU", "max")
    worker_streams: bool = True
    cuda_amp: torch.dtype | None = None

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The training hyper-parameters of the method of registry ``config`` and their defaults:
        what ``trackbench train --hparam`` may override."""
        raise NotImplementedError

    @classmethod
    def from_method(cls, config: dict[str, Any], training: dict[str, Any], data: RunData) -> Self:
        """The recipe of the method of registry ``config`` with the hyper-parameters
        ``training`` (every one of ``hyperparameters``)."""
        raise NotImplementedError

    @classmethod
    def settings(cls, config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        """``hyperparameters(config)`` with ``overrides`` over them; a ConfigError naming any
        unknown one, or one whose value is not of its default's kind
        (``checked_hyperparameter``)."""
        defaults = cls.hyperparameters(config)
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no training hyper-parameters {unknown};"
                f" known: {sorted(defaults)}"
            )
        checked = {
            name: checked_hyperparameter(name, value, defaults[name])
            for name, value in overrides.items()
        }
        return {**defaults, **checked}

    def build_model(self) -> nn.Module:
        """The initial model (torch's global RNG is seeded with the run's seed around the call)."""
        raise NotImplementedError

    def build_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        raise NotImplementedError

    def stream(self, seed: int) -> Stream:
        """The training stream of a run with ``seed``."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Any, step: StepContext) -> dict[str, Tensor]:
        """Scalar terms of ``batch``'s loss: ``"total"`` is minimised; every term (other measures
        too) is averaged into the curve."""
        raise NotImplementedError

    def clip(self, model: nn.Module) -> None:
        """Adjust the gradients before the optimizer step; by default clip their norm to
        ``clip_grad_norm``."""
        if self.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_grad_norm)

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        """Metrics of ``model`` (in eval mode, no gradients) on held-out data, drawing on no RNG the
        training uses; None: the family has no validation."""
        return None

    def compile(self, model: nn.Module, mode: str | None) -> nn.Module:
        """``model`` run by ``torch.compile(mode=mode)`` (None: eager) without changing its
        ``state_dict``; by default its whole ``forward`` (``compile_forward``)."""
        return compile_forward(model, mode)


@dataclass
class TrainResult:
    """The trained model (in eval mode), the run's curve and validation points, and the speed of
    this call."""

    model: nn.Module
    iterations: int
    curve: list[dict[str, float]]
    validation: list[dict[str, float]]
    iterations_per_s: float
    frames_per_s: float
    checkpoint: Path

    def summary(self) -> dict[str, Any]:
        """JSON-able: iterations, checkpoint, speed (this call's) and the last curve point."""
        return {
            "iterations": self.iterations,
            "checkpoint": str(self.checkpoint),
            "iterations_per_s": self.iterations_per_s,
            "frames_per_s": self.frames_per_s,
            "last": self.curve[-1] if self.curve else None,
        }


def train(
    recipe: Recipe,
    out: str | Path,
    iterations: int,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    resume: bool = False,
    checkpoint_every: int = 100,
    log_every: int = 10,
    validate_every: int | None = 1000,
    max_minutes: float | None = None,
    compile: str | None = None,
    amp: torch.dtype | None = None,
    workers: int = 0,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train ``recipe``'s model into ``out`` for ``iterations`` iterations in total (counting
    resumed ones).

    ``seed`` fixes the initial weights, the stream and the step noise (a resume keeps the
    checkpoint's). ``checkpoint_every`` must be a multiple of ``log_every`` so a resume restarts on
    a curve point. ``validate_every`` None turns validation off; validating changes nothing in the
    training. ``compile``: one of ``COMPILE_MODES`` (``Recipe.compile``). ``amp``: the autocast
    dtype (e.g. ``torch.bfloat16``), None = off. ``workers``: processes that make the batches
    ahead of training (``WorkerStream``; other batches than the in-process stream's, 0, so a
    resume needs the same number). ``init_from``: a checkpoint of the same method and
    configuration whose training a new run continues (``_Run.warm_start``; with ``resume``, only
    when ``out`` holds no training state yet); the cards say so (``initialised_from``).
    """
    _check_schedule(iterations, checkpoint_every, log_every, validate_every)
    if workers and not recipe.worker_streams:
        raise ConfigError(f"{recipe.card['method']}'s stream cannot run in worker processes")
    out, device = Path(out), torch.device(device)
    run = _Run.resume(recipe, out, device, workers) if resume else None
    source: str | Path = out / CHECKPOINT_NAME
    if run is None and init_from is not None:
        run, source = _Run.warm_start(recipe, Path(init_from), seed, device, workers), init_from
    if run is None:
        run = _Run.start(recipe, seed, device, workers)
    if run.iteration > iterations:
        raise ConfigError(
            f"the checkpoint holds {run.iteration} iterations, more than the {iterations} asked;"
            " ask for at least as many",
            source,
        )
    try:
        model, optimizer = recipe.compile(run.model, compile), run.optimizer
        segment = _Segment(
            run.iteration, device, compile, amp, workers, recipe.frames_per_iteration
        )
        deadline = None if max_minutes is None else time.perf_counter() + 60 * max_minutes
        window: list[dict[str, float]] = []
        current = best = None
        model.train()
        while run.iteration < iterations:
            batch = run.stream.next_batch()
            with _autocast(device, amp):
                losses = recipe.loss(model, batch, run.step)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            recipe.clip(model)
            optimizer.step()
            run.iteration += 1
            window.append({name: float(value.detach()) for name, value in losses.items()})
            last = run.iteration == iterations or (
                deadline is not None
                and run.iteration % log_every == 0
                and time.perf_counter() > deadline
            )
            if run.iteration % log_every == 0 or last:
                means = {name: float(np.mean([w[name] for w in window])) for name in window[0]}
                run.curve.append({"iteration": run.iteration, **means})
                window = []
            if validate_every is not None and (run.iteration % validate_every == 0 or last):
                with segment.paused():
                    metrics = _validate(recipe, model)
                if metrics is not None:
                    run.validation.append({"iteration": run.iteration, **metrics})
                    best = _selected(recipe.selection, run.validation)
            if run.iteration % checkpoint_every == 0 or last or best is not None:
                current = segment.summary(run.iteration)
                run.save(recipe, out, [*run.hardware, current], best)
                best = None
            if last:
                break
        speed = current or run.hardware[-1]
        return TrainResult(
            model=model.eval(),
            iterations=run.iteration,
            curve=run.curve,
            validation=run.validation,
            iterations_per_s=speed["iterations_per_s"],
            frames_per_s=speed["frames_per_s"],
            checkpoint=out / CHECKPOINT_NAME,
        )
    finally:
        if isinstance(run.stream, WorkerStream):
            run.stream.close()


class RootEpsRMSprop(torch.optim.Optimizer):
    """RMSprop with ε inside the square root, as Keras/Theano and TensorFlow 1 wrote it:

        a ← ρ a + (1 − ρ) g²,   m ← μ m + g / √(a + ε),   p ← p − lr · m

    (μ = ``momentum``, m = 0 at first; TensorFlow folds lr into m, the same for a constant lr).
    ``initial_square`` is a's start: 0 in Keras and Theano code, 1 in TensorFlow 1's
    ``RMSPropOptimizer``. ``torch.optim.RMSprop``
    divides by √a + ε and starts a at 0, so its first steps are full normalised steps where
    these take lr · g / √(ε + …).
    """

    def __init__(
        self,
        params: Any,
        lr: float,
        rho: float = 0.9,
        eps: float = 1e-6,
        momentum: float = 0.0,
        initial_square: float = 0.0,
    ):
        if lr <= 0 or not 0 <= rho < 1 or eps < 0 or momentum < 0 or initial_square < 0:
            raise ConfigError(
                f"RootEpsRMSprop needs lr > 0, 0 <= rho < 1, eps, momentum and initial_square"
                f" >= 0; got {lr}, {rho}, {eps}, {momentum}, {initial_square}"
            )
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "momentum": momentum,
            "initial_square": initial_square,
        }
        super().__init__(params, defaults)

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            rho, eps, momentum = group["rho"], group["eps"], group["momentum"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["square_avg"] = torch.full_like(param, group["initial_square"])
                    if momentum:
                        state["momentum_buffer"] = torch.zeros_like(param)
                square = state["square_avg"]
                square.mul_(rho).addcmul_(param.grad, param.grad, value=1 - rho)
                update = param.grad / (square + eps).sqrt_()
                if momentum:
                    update = state["momentum_buffer"].mul_(momentum).add_(update, alpha=1.0)
                param.sub_(update, alpha=group["lr"])
        return loss


def hardware_info(device: torch.device) -> dict[str, Any]:
    """What a run trains on: device, its name (GPU or CPU model), torch threads and version."""
    return {
        "device": str(device),
        "name": device_name(device),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def numpy_rng_state(rng: np.random.Generator) -> str:
    """A numpy generator's state as JSON text (for a ``Stream.state_dict``)."""
    return json.dumps(rng.bit_generator.state)


def numpy_rng(state: str) -> np.random.Generator:
    """The numpy generator in the state ``numpy_rng_state`` gave."""
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(state)
    return rng


def _check_schedule(
    iterations: int, checkpoint_every: int, log_every: int, validate_every: int | None
) -> None:
    if iterations < 1 or log_every < 1 or checkpoint_every < 1 or checkpoint_every % log_every:
        raise ConfigError(
            f"need iterations >= 1 and checkpoint_every ({checkpoint_every}) a multiple of "
            f"log_every ({log_every})"
        )
    if validate_every is not None and validate_every < 1:
        raise ConfigError(f"validate_every must be >= 1 (or off), not {validate_every}")


def _selected(
    selection: tuple[str, str], validation: list[dict[str, float]]
) -> dict[str, Any] | None:
    """The ``selected`` record of the newest validation point when it is the best so far by
    ``selection`` (ties go to the earlier point), else None."""
    metric, mode = selection
    if mode not in ("max", "min"):
        raise ConfigError(f"selection mode must be 'max' or 'min', not {mode!r}")
    values = [point[metric] for point in validation if metric in point]
    newest = validation[-1].get(metric)
    if newest is None or not np.isfinite(newest):
        return None
    best = max(values[:-1], default=-np.inf) if mode == "max" else -min(values[:-1], default=np.inf)
    if (newest if mode == "max" else -newest) <= best:
        return None
    return {
        "by": f"{mode} validation {metric}",
        "iteration": validation[-1]["iteration"],
        metric: newest,
    }


def _autocast(device: torch.device, amp: torch.dtype | None) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if amp is None else torch.autocast(device.type, dtype=amp)


def _validate(recipe: Recipe, model: nn.Module) -> dict[str, float] | None:
    model.eval()
    try:
        with torch.no_grad():
            return recipe.validate(model)
    finally:
        model.train()


class _Segment:
    """One ``train`` call's hardware and training speed; ``paused`` time (validation) excluded."""

    def __init__(
        self,
        from_iteration: int,
        device: torch.device,
        compile: str | None,
        amp: torch.dtype | None,
        workers: int,
        frames_per_iteration: int,
    ):
        self.from_iteration = from_iteration
        self.frames_per_iteration = frames_per_iteration
        amp_name = None if amp is None else str(amp).removeprefix("torch.")
        self.hardware = {
            **hardware_info(device),
            "compile": compile,
            "amp": amp_name,
            "stream_workers": workers,
        }
        self.started = time.perf_counter()
        self.paused_s = 0.0

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        paused = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - paused

    def summary(self, to_iteration: int) -> dict[str, Any]:
        seconds = time.perf_counter() - self.started - self.paused_s
        done = to_iteration - self.from_iteration
        return {
            "from_iteration": self.from_iteration,
            "to_iteration": to_iteration,
            **self.hardware,
            "seconds": seconds,
            "iterations_per_s": done / seconds,
            "frames_per_s": done * self.frames_per_iteration / seconds,
        }


@dataclass
class _Run:
    """Everything a resumed run needs to continue exactly where the last checkpoint left off."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    stream: Stream
    step: StepContext
    seed: int
    iteration: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    hardware: list[dict[str, Any]] = field(default_factory=list)
    origins: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, recipe: Recipe, seed: int, device: torch.device, workers: int) -> _Run:
        model = _build_model(recipe, seed, device)
        noise = torch.Generator(device).manual_seed(seed)
        return cls(
            model=model,
            optimizer=recipe.build_optimizer(model),
            stream=_stream(recipe, seed, workers),
            step=StepContext(device, noise),
            seed=seed,
        )

    @classmethod
    def resume(cls, recipe: Recipe, out: Path, device: torch.device, workers: int) -> _Run | None:
        """The run saved in ``out``, or None when there is no training state yet."""
        path = out / CHECKPOINT_NAME
        state_file = path.with_name(path.name + TRAIN_STATE_SUFFIX)
        if not state_file.is_file():
            return None
        weights, checkpoint = load_checkpoint(path, device)
        card = checkpoint.card
        _check_same_run(recipe, card, f"the checkpoint in {out}", "use a new --out")
        saved = load_tensors(state_file)  # on the CPU: generator and stream states stay there
        if saved["iteration"] != card["iterations"]:
            raise ConfigError(
                f"training state of iteration {saved['iteration']} beside a card of iteration "
                f"{card['iterations']} (a save was cut short); use a new --out",
                state_file,
            )
        model = _build_model(recipe, card["seed"], device)
        model.load_state_dict(weights)
        optimizer = recipe.build_optimizer(model)
        optimizer.load_state_dict(saved["optimizer"])
        noise = torch.Generator(device)
        noise.set_state(saved["noise"])
        stream = _stream(recipe, card["seed"], workers)
        if workers == 0 and "workers" in saved["stream"]:
            raise ConfigError(
                f"the training state is of a stream of {saved['stream']['workers']} workers;"
                " resume with as many",
                state_file,
            )
        stream.load_state_dict(saved["stream"])
        carry = {name: tensor.to(device) for name, tensor in saved["carry"].items()}
        return cls(
            model=model,
            optimizer=optimizer,
            stream=stream,
            step=StepContext(device, noise, carry),
            seed=card["seed"],
            iteration=card["iterations"],
            curve=card["curve"],
            validation=card.get("validation", []),
            origins=card.get("initialised_from", []),
            hardware=card.get("hardware") or _legacy_hardware(card),
        )

    @classmethod
    def warm_start(
        cls, recipe: Recipe, path: Path, seed: int, device: torch.device, workers: int
    ) -> _Run:
        """A run continuing checkpoint ``path`` (e.g. published weights on a new machine): its
        weights, iterations, curve, validation points and hardware segments, with a fresh
        optimizer, step noise and stream, seeded from ``seed`` and the iterations done."""
        weights, checkpoint = load_checkpoint(path, device)
        card = checkpoint.card
        _check_same_run(recipe, card, f"checkpoint {path}", "it cannot start this run")
        done = card["iterations"]
        seed = int(np.random.SeedSequence([seed, done]).generate_state(1)[0] >> 1)
        run = cls.start(recipe, seed, device, workers)
        run.model.load_state_dict(weights)  # casts half-precision published weights back
        run.iteration, run.curve = done, card["curve"]
        run.validation, run.hardware = card.get("validation", []), card.get("hardware", [])
        origin = {"checkpoint": str(path), "sha256": checkpoint.sha256, "iterations": done}
        run.origins = [*card.get("initialised_from", []), origin]
        return run

    def save(
        self,
        recipe: Recipe,
        out: Path,
        hardware: list[dict[str, Any]],
        selected: dict[str, Any] | None = None,
    ) -> None:
        """The training state first, then the weights, then the card: a card names a complete
        run; with ``selected``, the weights and card as ``<out>/best`` too."""
        path = out / CHECKPOINT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "noise": self.step.noise.get_state(),
            "stream": self.stream.state_dict(),
            "carry": {name: tensor.detach().cpu() for name, tensor in self.step.carry.items()},
        }
        state_file = path.with_name(path.name + TRAIN_STATE_SUFFIX)
        atomic_write(state_file, lambda f: torch.save(state, f))
        card = {
            **recipe.card,
            "seed": self.seed,
            "iterations": self.iteration,
            "curve": self.curve,
            "validation": self.validation,
            "hardware": hardware,
        }
        if self.origins:
            card["initialised_from"] = self.origins
        save_checkpoint(path, self.model.state_dict(), card)
        if selected is not None:
            save_checkpoint(
                out / BEST_NAME, self.model.state_dict(), {**card, "selected": selected}
            )
        write_json(out / "curve.json", self.curve, indent=1)
        if self.validation:
            write_json(out / "validation.json", self.validation, indent=1)


def _check_same_run(recipe: Recipe, card: dict[str, Any], what: str, advice: str) -> None:
    """``card`` is of ``recipe``'s method and configuration, or a one-line error saying which
    keys differ."""
    wanted = (recipe.card["method"], json.loads(json.dumps(recipe.card["config"])))
    held = card.get("config") or {}
    if (card.get("method"), held) != wanted:
        differ = sorted(key for key in {*wanted[1], *held} if wanted[1].get(key) != held.get(key))
        raise ConfigError(
            f"{what} was trained with another configuration: {card.get('method')}"
            f" {card.get('variant')}, not {recipe.card['method']} {recipe.card.get('variant')}"
            f" (keys differing: {differ}); {advice}"
        )


def _stream(recipe: Recipe, seed: int, workers: int) -> Stream:
    """``recipe``'s stream of ``seed``, made by ``workers`` processes (0: in this one)."""
    return recipe.stream(seed) if workers == 0 else WorkerStream(recipe.stream, seed, workers)


def _build_model(recipe: Recipe, seed: int, device: torch.device) -> nn.Module:
    """``recipe.build_model()`` initialised from ``seed``, torch's global RNG left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return recipe.build_model().to(device)


def _legacy_hardware(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A card written before ``hardware`` existed: its ``speed`` (the last segment's figures)."""
    speed = card.get("speed")
    return [] if speed is None else [{"to_iteration": card["iterations"], **speed}]
