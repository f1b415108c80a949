"""harness.training with a toy learnable family: a GRU predicting the next point of seeded random
walks, trained with RMSprop; its recipe is only a model, an optimizer, a stream and a loss (with
input noise from the run's generator and the hidden state carried between batches, so a resume
must restore both)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from harness.checkpoints import read_card
from harness.errors import ConfigError, FormatError
from harness.training import (
    Recipe,
    StepContext,
    compile_forward,
    numpy_rng,
    numpy_rng_state,
    train,
)

SCHEDULE = {"seed": 1, "checkpoint_every": 2, "log_every": 1, "validate_every": 3}


class ToyGRU(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.gru = nn.GRU(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, points: torch.Tensor, hidden: torch.Tensor | None = None):
        features, hidden = self.gru(points, hidden)
        return self.head(features), hidden


class RandomWalks:
    """Endless random walks, ``batch`` of them, ``length`` points per batch, seeded."""

    def __init__(self, seed: int, batch: int, length: int):
        self.rng = np.random.default_rng(seed)
        self.shape = (batch, length, 2)
        self.position = np.zeros((batch, 1, 2))
        self.batches = 0

    def next_batch(self) -> torch.Tensor:
        walk = self.position + (0.1 + self.rng.normal(size=self.shape)).cumsum(axis=1)
        self.position = walk[:, -1:]
        self.batches += 1
        return torch.from_numpy(walk).float()

    def state_dict(self) -> dict:
        return {"rng": numpy_rng_state(self.rng), "position": torch.from_numpy(self.position)}

    def load_state_dict(self, state: dict) -> None:
        self.rng, self.position = numpy_rng(state["rng"]), state["position"].numpy()


class WalkRecipe(Recipe):
    clip_grad_norm = 1.0

    def __init__(self, hidden: int = 8, lr: float = 1e-2, batch: int = 4, length: int = 6):
        config = {"dataset": "random-walks", "hidden": hidden, "lr": lr, "batch": batch}
        self.hidden, self.lr, self.batch, self.length = hidden, lr, batch, length
        self.card = {"method": "toy", "variant": "GRU", "config": config, "data": {"batch": batch}}
        self.frames_per_iteration = batch * length

    def build_model(self) -> nn.Module:
        return ToyGRU(self.hidden)

    def build_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(model.parameters(), lr=self.lr)

    def stream(self, seed: int) -> RandomWalks:
        return RandomWalks(seed, self.batch, self.length)

    def loss(self, model: nn.Module, batch: torch.Tensor, step: StepContext) -> dict:
        noisy = batch + 0.05 * torch.randn(batch.shape, generator=step.noise)
        prediction, hidden = model(noisy[:, :-1], step.carry.get("hidden"))
        step.carry["hidden"] = hidden.detach()
        error = (prediction - batch[:, 1:]).square().mean()
        return {"total": error, "hidden_norm": hidden.norm()}

    def validate(self, model: nn.Module) -> dict:
        assert not model.training and not torch.is_grad_enabled()
        walks = RandomWalks(99, 2, 8).next_batch()
        prediction, _ = model(walks[:, :-1])
        return {"mse": float((prediction - walks[:, 1:]).square().mean())}


def weights_equal(a: nn.Module, b: nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole = train(WalkRecipe(), tmp_path / "whole", 9, **SCHEDULE)
    assert train(WalkRecipe(), tmp_path / "parts", 6, **SCHEDULE).iterations == 6
    resumed = train(WalkRecipe(), tmp_path / "parts", 9, resume=True, **SCHEDULE)
    assert resumed.iterations == 9 and weights_equal(resumed.model, whole.model)
    assert resumed.curve == whole.curve and resumed.validation == whole.validation
    assert read_card(tmp_path / "parts" / "last")["curve"] == whole.curve
    other = train(WalkRecipe(), tmp_path / "other", 9, **{**SCHEDULE, "seed": 2})
    assert not weights_equal(other.model, whole.model)
    fresh = train(WalkRecipe(), tmp_path / "empty", 9, resume=True, **SCHEDULE)
    assert weights_equal(fresh.model, whole.model)  # nothing to resume: a fresh run


def test_training_leaves_the_global_rng_alone(tmp_path):
    before = torch.random.get_rng_state()
    train(WalkRecipe(), tmp_path, 3, **SCHEDULE)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_time_slice_stops_at_a_curve_point_and_a_resume_continues(tmp_path):
    schedule = {**SCHEDULE, "log_every": 2, "checkpoint_every": 4}
    sliced = train(WalkRecipe(), tmp_path / "sliced", 10, max_minutes=0, **schedule)
    assert sliced.iterations == 2 and [p["iteration"] for p in sliced.curve] == [2]
    assert read_card(tmp_path / "sliced" / "last")["iterations"] == 2  # checkpointed
    resumed = train(WalkRecipe(), tmp_path / "sliced", 10, resume=True, **schedule)
    whole = train(WalkRecipe(), tmp_path / "whole", 10, **schedule)
    assert resumed.iterations == 10 and weights_equal(resumed.model, whole.model)
    assert resumed.curve == whole.curve


def test_curve_and_validation_points_where_expected(tmp_path):
    every = train(WalkRecipe(), tmp_path / "every", 7, **{**SCHEDULE, "validate_every": None})
    options = {"seed": 1, "log_every": 2, "checkpoint_every": 4, "validate_every": 3}
    result = train(WalkRecipe(), tmp_path / "pairs", 7, **options)
    assert [p["iteration"] for p in result.curve] == [2, 4, 6, 7]
    assert [p["iteration"] for p in result.validation] == [3, 6, 7]
    assert all(set(p) == {"iteration", "mse"} for p in result.validation)
    assert every.validation == [] and weights_equal(every.model, result.model)  # nothing drawn
    for point, (a, b) in zip(result.curve[:3], zip(every.curve[::2], every.curve[1::2])):
        for term in ("total", "hidden_norm"):
            assert point[term] == pytest.approx((a[term] + b[term]) / 2, rel=1e-12)
    assert result.curve[3]["total"] == every.curve[6]["total"]  # the last point: one iteration
    folder = tmp_path / "pairs"
    assert json.loads((folder / "curve.json").read_text()) == result.curve
    assert json.loads((folder / "validation.json").read_text()) == result.validation
    assert not (tmp_path / "every" / "validation.json").exists()


class FailingWalks(RandomWalks):
    def next_batch(self) -> torch.Tensor:
        if self.batches == 6:
            raise RuntimeError("stream broke")
        return super().next_batch()


class FailingRecipe(WalkRecipe):
    def stream(self, seed: int) -> RandomWalks:
        return FailingWalks(seed, self.batch, self.length)


def test_a_crash_resumes_from_the_last_checkpoint(tmp_path):
    options = {"seed": 1, "log_every": 2, "checkpoint_every": 4, "validate_every": None}
    with pytest.raises(RuntimeError, match="stream broke"):
        train(FailingRecipe(), tmp_path / "crash", 8, **options)
    card = read_card(tmp_path / "crash" / "last")
    assert card["iterations"] == 4 and [p["iteration"] for p in card["curve"]] == [2, 4]
    resumed = train(WalkRecipe(), tmp_path / "crash", 8, resume=True, **options)
    whole = train(WalkRecipe(), tmp_path / "whole", 8, **options)
    assert weights_equal(resumed.model, whole.model) and resumed.curve == whole.curve


def test_one_hardware_segment_per_call(tmp_path):
    recipe = WalkRecipe()
    train(recipe, tmp_path, 3, **SCHEDULE)
    train(recipe, tmp_path, 5, resume=True, **SCHEDULE)
    last = train(recipe, tmp_path, 6, resume=True, **SCHEDULE)
    segments = read_card(tmp_path / "last")["hardware"]
    assert [(s["from_iteration"], s["to_iteration"]) for s in segments] == [(0, 3), (3, 5), (5, 6)]
    for segment in segments:
        assert (segment["device"], segment["compile"], segment["amp"]) == ("cpu", None, None)
        assert segment["name"] and segment["torch"] == torch.__version__
        assert segment["torch_threads"] == torch.get_num_threads() and segment["seconds"] > 0
        frames = segment["iterations_per_s"] * recipe.frames_per_iteration
        assert segment["frames_per_s"] == pytest.approx(frames)
    assert last.iterations_per_s == segments[-1]["iterations_per_s"]
    assert last.summary() == {
        "iterations": 6,
        "checkpoint": str(tmp_path / "last"),
        "iterations_per_s": last.iterations_per_s,
        "frames_per_s": last.frames_per_s,
        "last": last.curve[-1],
    }


def test_autocast_is_off_by_default_and_recorded_when_on(tmp_path):
    options = {**SCHEDULE, "validate_every": None}
    plain = train(WalkRecipe(), tmp_path / "plain", 2, **options)
    mixed = train(WalkRecipe(), tmp_path / "mixed", 2, amp=torch.bfloat16, **options)
    assert read_card(tmp_path / "mixed" / "last")["hardware"][0]["amp"] == "bfloat16"
    assert mixed.curve[0]["total"] != plain.curve[0]["total"]  # the head ran in bfloat16
    assert np.isfinite(mixed.curve[-1]["total"])


def test_resume_refuses_another_configuration_and_bad_schedules(tmp_path):
    train(WalkRecipe(), tmp_path, 2, **SCHEDULE)
    with pytest.raises(ConfigError, match="another configuration"):
        train(WalkRecipe(hidden=6), tmp_path, 4, resume=True, **SCHEDULE)
    with pytest.raises(ConfigError, match="multiple of"):
        train(
            WalkRecipe(), tmp_path / "x", 4, **{**SCHEDULE, "log_every": 2, "checkpoint_every": 3}
        )
    with pytest.raises(ConfigError, match="validate_every"):
        train(WalkRecipe(), tmp_path / "x", 4, **{**SCHEDULE, "validate_every": 0})
    with pytest.raises(ConfigError, match="compile must be one of"):
        train(WalkRecipe(), tmp_path / "x", 4, compile="fastest", **SCHEDULE)


class LeakyWalks(RandomWalks):
    """A stream whose state holds a numpy array: saved, but not loadable weights-only."""

    def state_dict(self) -> dict:
        return {**super().state_dict(), "position": self.position}


class UnpicklableWalks(RandomWalks):
    def state_dict(self) -> dict:
        return {**super().state_dict(), "hook": lambda: None}


def test_training_state_is_loaded_weights_only_and_written_atomically(tmp_path):
    class Leaky(WalkRecipe):
        def stream(self, seed):
            return LeakyWalks(seed, self.batch, self.length)

    train(Leaky(), tmp_path / "leaky", 2, **SCHEDULE)
    with pytest.raises(FormatError, match="weights-only") as error:
        train(Leaky(), tmp_path / "leaky", 4, resume=True, **SCHEDULE)
    assert error.value.path == str(tmp_path / "leaky" / "last.train.pt")

    class Unpicklable(WalkRecipe):
        def stream(self, seed):
            return UnpicklableWalks(seed, self.batch, self.length)

    with pytest.raises(Exception, match="lambda"):
        train(Unpicklable(), tmp_path / "broken", 2, **SCHEDULE)
    assert list((tmp_path / "broken").iterdir()) == []  # no partial file


def test_compile_forward_wraps_in_place_and_keeps_the_state_dict():
    """Wrapping is lazy: torch.compile compiles on the first call (not made here)."""
    model = ToyGRU(4)
    keys = list(model.state_dict())
    assert compile_forward(model, None) is model and "forward" not in vars(model)
    assert compile_forward(model, "default") is model and callable(vars(model)["forward"])
    assert list(model.state_dict()) == keys
    with pytest.raises(ConfigError, match="compile must be one of"):
        compile_forward(ToyGRU(4), "eager")


class SelectingRecipe(WalkRecipe):
    selection = ("mse", "min")


def test_the_best_validation_point_is_kept_as_best_and_publish_best_takes_it(tmp_path):
    from harness.checkpoints import load_checkpoint, publish_checkpoint

    result = train(SelectingRecipe(), tmp_path / "run", 9, **{**SCHEDULE, "validate_every": 1})
    best = min(result.validation, key=lambda point: point["mse"])  # the first of equal ones
    card = read_card(tmp_path / "run" / "best")
    assert card["iterations"] == best["iteration"]
    assert card["selected"] == {"by": "min validation mse", **best}
    # the best checkpoint's weights are those the run had at that iteration
    again = train(SelectingRecipe(), tmp_path / "again", best["iteration"], **SCHEDULE)
    weights, _ = load_checkpoint(tmp_path / "run" / "best")
    assert all(torch.equal(weights[k], v) for k, v in again.model.state_dict().items())
    published = publish_checkpoint(tmp_path / "run", tmp_path / "pub" / "last", "float16", True)
    assert published["selected"]["trained"] == 9
    assert published["selected"]["validation"] == result.validation
    assert published["iterations"] == best["iteration"]
    with pytest.raises(ConfigError, match="no best checkpoint"):
        every = tmp_path / "off"
        train(WalkRecipe(), every, 2, **{**SCHEDULE, "validate_every": None})
        publish_checkpoint(every, tmp_path / "pub2" / "last", best=True)


class ConstantRecipe(SelectingRecipe):
    def validate(self, model: nn.Module) -> dict:
        return {"mse": 1.0}


def test_publish_best_of_a_warm_run_that_never_beat_its_start_publishes_the_start(tmp_path):
    from harness.checkpoints import load_checkpoint, publish_checkpoint

    train(ConstantRecipe(), tmp_path / "run", 3, **SCHEDULE)
    start = tmp_path / "start" / "last"
    publish_checkpoint(tmp_path / "run", start, best=True)
    warm = tmp_path / "warm"
    run = train(ConstantRecipe(), warm, 6, **{**SCHEDULE, "init_from": start})  # ties: no best
    assert not (warm / "best.json").exists()
    card = publish_checkpoint(warm, tmp_path / "again" / "last", "float16", best=True)
    assert card["iterations"] == read_card(start)["iterations"]
    assert card["selected"]["trained"] == 6 and card["selected"]["validation"] == run.validation
    assert card["selected"]["iteration"] == card["iterations"]
    weights, _ = load_checkpoint(tmp_path / "again" / "last")
    started, _ = load_checkpoint(start)
    assert all(torch.equal(weights[k], v.half()) for k, v in started.items())
    # a start that was not its run's best is not the warm run's best either
    publish_checkpoint(tmp_path / "run" / "last", tmp_path / "plain" / "last")
    plain = tmp_path / "plain-warm"
    train(ConstantRecipe(), plain, 6, **{**SCHEDULE, "init_from": tmp_path / "plain" / "last"})
    with pytest.raises(ConfigError, match="not published as a best checkpoint"):
        publish_checkpoint(plain, tmp_path / "again2" / "last", best=True)


def test_a_resume_with_a_smaller_budget_than_the_checkpoint_is_refused(tmp_path):
    train(WalkRecipe(), tmp_path, 4, **SCHEDULE)
    with pytest.raises(ConfigError, match="holds 4 iterations, more than the 3 asked"):
        train(WalkRecipe(), tmp_path, 3, resume=True, **SCHEDULE)
    assert train(WalkRecipe(), tmp_path, 4, resume=True, **SCHEDULE).iterations == 4


@pytest.mark.parametrize(
    ("momentum", "initial_square"), [(0.0, 0.0), (0.9, 1.0)]
)  # Keras/Theano (the Gan et al. code); TensorFlow 1 (the HART code)
def test_root_eps_rmsprop_follows_its_formula(momentum, initial_square):
    from harness.training import RootEpsRMSprop

    lr, rho, eps = 1e-2, 0.9, 1e-6
    start = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    param = nn.Parameter(start.clone())
    optimizer = RootEpsRMSprop(
        [param], lr=lr, rho=rho, eps=eps, momentum=momentum, initial_square=initial_square
    )
    expected, square, buffer = start.numpy().copy(), np.full(3, initial_square), np.zeros(3)
    for scale in (1.0, -3.0, 1e-3):
        grad = scale * np.array([1e-4, 2.0, -0.5])
        param.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        square = rho * square + (1 - rho) * grad**2
        buffer = momentum * buffer + grad / np.sqrt(square + eps)
        expected = expected - lr * buffer
        np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-12)
    # unlike torch's √a + ε with a from 0, a tiny first gradient takes a tiny step
    tiny = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    tiny.grad = torch.tensor([1e-5], dtype=torch.float64)
    RootEpsRMSprop([tiny], lr=1.0, rho=0.9, eps=1e-6).step()
    assert abs(tiny.item()) == pytest.approx(1e-5 / np.sqrt(0.1 * 1e-10 + 1e-6))
    with pytest.raises(ConfigError, match="RootEpsRMSprop needs"):
        RootEpsRMSprop([tiny], lr=0.0)


def test_worker_streams_give_the_same_batches_whatever_the_timing_and_resume_exactly(tmp_path):
    options = {**SCHEDULE, "workers": 2}
    whole = train(WalkRecipe(), tmp_path / "whole", 9, **options)
    again = train(WalkRecipe(), tmp_path / "again", 9, **options)
    assert weights_equal(whole.model, again.model) and whole.curve == again.curve
    train(WalkRecipe(), tmp_path / "parts", 5, **options)
    resumed = train(WalkRecipe(), tmp_path / "parts", 9, resume=True, **options)
    assert weights_equal(resumed.model, whole.model) and resumed.curve == whole.curve
    card = read_card(tmp_path / "parts" / "last")
    assert [segment["stream_workers"] for segment in card["hardware"]] == [2, 2]
    in_process = train(WalkRecipe(), tmp_path / "in-process", 9, **SCHEDULE)
    assert not weights_equal(in_process.model, whole.model)  # other batches
    for workers, folder in ((0, "parts"), (3, "parts"), (2, "in-process")):
        with pytest.raises(ConfigError, match="stream of .* workers"):
            train(
                WalkRecipe(), tmp_path / folder, 12, resume=True, **{**SCHEDULE, "workers": workers}
            )


def test_a_run_continues_published_weights_with_a_fresh_optimizer_and_says_so(tmp_path):
    from harness.checkpoints import load_checkpoint, publish_checkpoint

    first = train(WalkRecipe(), tmp_path / "first", 4, **SCHEDULE)
    published = tmp_path / "published" / "last"
    publish_checkpoint(tmp_path / "first" / "last", published, "float16")
    options = {**SCHEDULE, "init_from": published}
    warm = train(WalkRecipe(), tmp_path / "warm", 7, **options)
    card = read_card(tmp_path / "warm" / "last")
    assert card["iterations"] == 7 and card["curve"][:4] == first.curve
    assert card["validation"][0] == first.validation[0] and len(card["hardware"]) == 2
    (origin,) = card["initialised_from"]
    assert origin["checkpoint"] == str(published) and origin["iterations"] == 4
    # the new part of the run starts from the stored (half-precision) weights, cast back
    weights, _ = load_checkpoint(published)
    start = train(WalkRecipe(), tmp_path / "start", 4, **options).model.state_dict()
    assert all(
        start[k].dtype == torch.float32 and torch.equal(start[k], w.float())
        for k, w in weights.items()
    )
    # a resume of the warm run continues it exactly; --resume with --init-from resumes
    train(WalkRecipe(), tmp_path / "parts", 5, **options)
    resumed = train(WalkRecipe(), tmp_path / "parts", 7, resume=True, **options)
    assert weights_equal(resumed.model, warm.model)
    assert read_card(tmp_path / "parts" / "last")["initialised_from"] == [origin]
    with pytest.raises(ConfigError, match="holds 4 iterations, more than the 3 asked"):
        train(WalkRecipe(), tmp_path / "short", 3, **options)
    with pytest.raises(ConfigError, match="another configuration"):
        train(WalkRecipe(hidden=4), tmp_path / "other", 7, **options)
