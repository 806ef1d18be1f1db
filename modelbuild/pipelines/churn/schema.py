"""The churn data contract: column names and types shared by the generator and its tests.

The step scripts run inside SageMaker containers where only the script file itself is
shipped, so they carry their own copy of the columns; `tests/modelbuild/test_schema.py`
keeps those copies equal to this one.
"""

from __future__ import annotations

ID_COLUMN = "customer_id"
TARGET_COLUMN = "churn"

NUMERIC_COLUMNS = [
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
]

CATEGORICAL_COLUMNS = {
    "contract": ["Month-to-month", "One year", "Two year"],
    "internet_service": ["DSL", "Fiber optic", "No internet"],
    "payment_method": ["Electronic check", "Mailed check", "Bank transfer", "Credit card"],
    "paperless_billing": ["Yes", "No"],
}

FEATURE_COLUMNS = NUMERIC_COLUMNS + list(CATEGORICAL_COLUMNS)
ALL_COLUMNS = [ID_COLUMN, *FEATURE_COLUMNS, TARGET_COLUMN]
