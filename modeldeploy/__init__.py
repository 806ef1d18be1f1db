"""The model-deploy half: approved package -> staging -> smoke test -> approval -> prod."""
