import pytest


@pytest.fixture(scope="session")
def spark():
    """One real local SparkSession (local[2]) for the whole test run."""
    pytest.importorskip("pyspark")
    from alsrec.spark import local_session

    session = local_session(2, memory="2g")
    yield session
    session.stop()
