"""The benchmark's problems, one per regime of the source text, by name."""

from benchmarks.quality.problem import Problem
from benchmarks.quality.problems.cartpole import CARTPOLE
from benchmarks.quality.problems.char_rnn import CHAR_RNN
from benchmarks.quality.problems.digits import DIGITS_CNN, DIGITS_MLP
from benchmarks.quality.problems.drifting_regression import DRIFTING_REGRESSION
from benchmarks.quality.problems.sparse_logreg import SPARSE_LOGREG_LONG, SPARSE_LOGREG_SHORT

PROBLEMS: dict[str, Problem] = {
    problem.name: problem
    for problem in (
        SPARSE_LOGREG_SHORT,
        SPARSE_LOGREG_LONG,
        CHAR_RNN,
        DRIFTING_REGRESSION,
        CARTPOLE,
        DIGITS_MLP,
        DIGITS_CNN,
    )
}

__all__ = ["PROBLEMS"]
