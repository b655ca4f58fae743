"""Apache Spark backend (optional extra ``spark``): Spark MLlib's ALS behind alsrec's API.

Training runs on Spark's own distributed ALS (``pyspark.ml.recommendation.ALS``);
the factors come back as alsrec's fitted-model type, so recommend, evaluation,
save and load are unchanged. Importing this package needs pyspark.
"""

from alsrec.spark.als import SparkALS, spark_counterpart
from alsrec.spark.blog import compare_with_spark
from alsrec.spark.session import local_session

__all__ = ["SparkALS", "compare_with_spark", "local_session", "spark_counterpart"]
