"""What a run read and wrote, and where MLflow and Kedro's versions record it."""
