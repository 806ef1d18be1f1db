terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State is local unless a backend is configured: CI (.github/workflows/terraform.yml)
  # writes backend_override.tf with an S3 backend (use_lockfile = true, S3's native
  # locking); terraform/README.md shows how to do the same by hand.
}
