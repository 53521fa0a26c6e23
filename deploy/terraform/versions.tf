terraform {
  # 1.10+ for S3-native state locking (`use_lockfile`), see backend.hcl.example.
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket, key, region and locking come from a backend config file
  # (`terraform init -backend-config=backend.hcl`, see backend.hcl.example) or, in CI, from
  # -backend-config flags. Nothing account-specific is committed.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
