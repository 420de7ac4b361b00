"""Framework snippets that build one optimizer object for several parameter groups, each with its own method.

Each snippet is complete: with `model` (torch) or nothing else (Keras 3, Optax) in scope it leaves one object
named `optimizer`:
- torch: one `torch.optim` optimizer with a parameter group per advice group when every group (and the
  whole-model method, which takes any parameter no group names) uses the same class; otherwise a small
  object holding one optimizer per group, with `step()`, `zero_grad()`, `state_dict()` and
  `load_state_dict()`. Parameters are selected by their `model.named_parameters()` names.
- Keras 3: `keras.optimizers.MultiOptimizer` over an `OptimizerMap` keyed by `variable.path` (each name
  escaped, so it matches that path exactly); its default optimizer, the whole-model method, takes the
  variables no group names.
- Optax: `optax.partition` (the same transformation as `optax.multi_transform`) labelling each leaf by its
  path in the params pytree, joined with "." (a flat dict keyed by the names, or nested dicts whose keys
  join to them); unnamed leaves get the whole-model method.

`keras.optimizers.MultiOptimizer` first shipped in Keras 3.15.0 and `optax.partition` in Optax 0.2.5 (3.14.0
and 0.2.4 lack them), so the snippets need those releases or later.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optadvisor.rules.frameworks import constructor
from optadvisor.rules.recommendation import Kwarg
from optadvisor.rules.request import Method


@dataclass(frozen=True)
class CodeGroup:
    """One advice group: its parameter names, its method and its kwargs in one framework's names."""

    parameters: Sequence[str]
    method: Method
    kwargs: Mapping[str, Kwarg]


def _literal(value: Kwarg) -> str:
    return f"({', '.join(repr(item) for item in value)})" if isinstance(value, list) else repr(value)


def _arguments(kwargs: Mapping[str, Kwarg]) -> str:
    return ", ".join(f"{name}={_literal(value)}" for name, value in kwargs.items())


def _call(target: str, kwargs: Mapping[str, Kwarg], leading: str = "") -> str:
    arguments = [leading] if leading else []
    if kwargs:
        arguments.append(_arguments(kwargs))
    return f"{target}({', '.join(arguments)})"


def _names(parameters: Sequence[str]) -> str:
    """A tuple literal of the names."""
    if len(parameters) == 1:
        return f"({parameters[0]!r},)"
    return "(" + ", ".join(repr(name) for name in parameters) + ")"


def _group_dict(parameters: str, kwargs: Mapping[str, Kwarg]) -> str:
    items = [f'"params": {parameters}'] + [f"{name!r}: {_literal(value)}" for name, value in kwargs.items()]
    return "{" + ", ".join(items) + "}"


_TORCH_PER_GROUP = '''


class PerGroupOptimizer:
    """One torch optimizer per parameter group, stepped together."""

    def __init__(self, optimizers):
        self.optimizers = optimizers

    def step(self):
        for inner in self.optimizers:
            inner.step()

    def zero_grad(self, set_to_none=True):
        for inner in self.optimizers:
            inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"optimizers": [inner.state_dict() for inner in self.optimizers]}

    def load_state_dict(self, state_dict):
        for inner, saved in zip(self.optimizers, state_dict["optimizers"], strict=True):
            inner.load_state_dict(saved)


'''


def torch_code(groups: Sequence[CodeGroup], whole: CodeGroup) -> str:
    """A torch snippet; `whole` is the whole-model method, for parameters no group names."""
    named = [name for group in groups for name in group.parameters]
    lines = [
        "import torch",
        "",
        "named = dict(model.named_parameters())",
        f"grouped = set({_names(named)})",
        "rest = [p for name, p in named.items() if name not in grouped]  # parameters no group names",
    ]
    classes = {constructor(group.method, "torch") for group in groups} | {constructor(whole.method, "torch")}
    if len(classes) == 1:
        lines.append(f"optimizer = {constructor(whole.method, 'torch')}(")
        lines.append("    [")
        for group in groups:
            selected = f"[named[name] for name in {_names(group.parameters)}]"
            lines.append(f"        {_group_dict(selected, group.kwargs)},")
        lines.append("    ]")
        lines.append(
            '    + ([{"params": rest}] if rest else []),  # the rest at the whole-model kwargs below'
        )
        if whole.kwargs:
            lines.append(f"    {_arguments(whole.kwargs)},")
        lines.append(")")
        return "\n".join(lines) + "\n"
    code = "\n".join(lines) + _TORCH_PER_GROUP
    code += "optimizer = PerGroupOptimizer(\n    [\n"
    for group in groups:
        selected = f"[named[name] for name in {_names(group.parameters)}]"
        code += f"        {_call(constructor(group.method, 'torch'), group.kwargs, selected)},\n"
    code += "    ]\n"
    code += f"    + ([{_call(constructor(whole.method, 'torch'), whole.kwargs, 'rest')}] if rest else [])\n"
    code += ")\n"
    return code


def keras_code(groups: Sequence[CodeGroup], whole: CodeGroup) -> str:
    """A Keras 3 snippet (`keras.optimizers.MultiOptimizer`, variables selected by `variable.path`)."""
    lines = ["import re", "", "import keras", ""]
    for index, group in enumerate(groups):
        lines.append(f"group_{index} = {_call(constructor(group.method, 'keras'), group.kwargs)}")
    lines.append("optimizer = keras.optimizers.MultiOptimizer(")
    lines.append("    keras.optimizers.OptimizerMap(")
    lines.append(
        f"        {_call(constructor(whole.method, 'keras'), whole.kwargs)},  # variables no group names"
    )
    lines.append("        {")
    for index, group in enumerate(groups):
        for name in group.parameters:
            lines.append(f"            re.escape({name!r}): group_{index},")
    lines.append("        },")
    lines.append("    )")
    lines.append(")")
    return "\n".join(lines) + "\n"


def optax_code(groups: Sequence[CodeGroup], whole: CodeGroup) -> str:
    """An Optax snippet (`optax.partition`, leaves labelled by their "."-joined path in `params`)."""
    lines = ["import jax", "import optax", "", "labels = {"]
    for index, group in enumerate(groups):
        for name in group.parameters:
            lines.append(f"    {name!r}: 'group_{index}',")
    lines += [
        "}",
        "",
        "",
        "def _key(entry):",
        "    for attribute in ('key', 'name', 'idx'):",
        "        if hasattr(entry, attribute):",
        "            return str(getattr(entry, attribute))",
        "    return str(entry)",
        "",
        "",
        "def label_params(params):",
        "    return jax.tree_util.tree_map_with_path(",
        "        lambda path, _: labels.get('.'.join(_key(entry) for entry in path), 'rest'), params",
        "    )",
        "",
        "",
        "optimizer = optax.partition(",
        "    {",
    ]
    for index, group in enumerate(groups):
        lines.append(f"        'group_{index}': {_call(constructor(group.method, 'optax'), group.kwargs)},")
    lines.append(
        f"        'rest': {_call(constructor(whole.method, 'optax'), whole.kwargs)},  # leaves no group names"
    )
    lines += ["    },", "    label_params,", ")"]
    return "\n".join(lines) + "\n"
