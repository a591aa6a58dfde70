"""Case-inspection analysis suite."""
