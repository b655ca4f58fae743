"""Apache Spark backend (optional extra ``spark``).

- ``alsrec.ALS(..., backend="spark")`` (available once this package is
  imported) trains any alsrec objective on Spark executors:
  :func:`~alsrec.spark.distributed.fit_spark`, with outputs written from the
  executors through :class:`~alsrec.spark.output.SparkFactors`.
- :class:`MLlibALS` (also named ``SparkALS``) is Spark MLlib's own ALS behind
  alsrec's API, kept as a peer to compare against.

Importing this package needs pyspark.
"""

from alsrec.spark.als import MLlibALS, SparkALS, spark_counterpart
from alsrec.spark.blog import compare_with_spark
from alsrec.spark.distributed import fit_spark
from alsrec.spark.output import SparkFactors, load_factors
from alsrec.spark.session import local_session

__all__ = [
    "MLlibALS",
    "SparkALS",
    "SparkFactors",
    "compare_with_spark",
    "fit_spark",
    "load_factors",
    "local_session",
    "spark_counterpart",
]
