# ------------------------------------------------------------------ general ------------

variable "aws_region" {
  description = "AWS region to deploy into (e.g. eu-west-1; af-south-1 is closer to East Africa but must be enabled on the account first)."
  type        = string
  default     = "eu-west-1"
}

variable "project" {
  description = "Name prefix for every resource and the Project tag."
  type        = string
  default     = "customer-order-service"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.project))
    error_message = "project must be lowercase letters, digits and dashes, 2 to 41 characters, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (production, staging, ...): part of resource names and the Environment tag."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be lowercase letters, digits and dashes."
  }
}

# ------------------------------------------------------------------ network ------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC created for the service (two public and two private /24 subnets are carved from it)."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 22
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /22 or larger."
  }
}

variable "ssh_allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach SSH (port 22), e.g. an office or VPN range. Never 0.0.0.0/0. May be empty: the deploy workflow opens a temporary /32 for its runner and closes it afterwards."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.ssh_allowed_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every entry of ssh_allowed_cidrs must be a valid IPv4 CIDR block such as 198.51.100.0/24."
  }

  validation {
    condition     = alltrue([for cidr in var.ssh_allowed_cidrs : tonumber(split("/", cidr)[1]) >= 8])
    error_message = "ssh_allowed_cidrs must not open SSH to the whole internet (0.0.0.0/0) or any block larger than /8."
  }
}

variable "domain_name" {
  description = "DNS name that will point at the Elastic IP (A record, created outside this stack). Empty: the service is served over plain HTTP on the IP until a name exists."
  type        = string
  default     = ""

  validation {
    condition     = var.domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be empty or a lowercase DNS name such as orders.example.com."
  }
}

# ------------------------------------------------------------------ instance -----------

variable "instance_type" {
  description = "EC2 instance type of the application host. Must match instance_architecture (t3.* for x86_64, t4g.* for arm64)."
  type        = string
  default     = "t3.small"
}

variable "instance_architecture" {
  description = "CPU architecture of the Ubuntu AMI and of the instance type: x86_64 or arm64. The image must be built for it (deploy.yml builds linux/amd64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.instance_architecture)
    error_message = "instance_architecture must be x86_64 or arm64."
  }
}

variable "ssh_key_name" {
  description = "Name of an existing EC2 key pair whose private key the deploy workflow holds (GitHub secret SSH_PRIVATE_KEY). Null: no key pair (SSM Session Manager only, no Ansible over SSH)."
  type        = string
  default     = null
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted gp3 root volume in GiB (OS and logs)."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size_gb >= 10
    error_message = "root_volume_size_gb must be at least 10."
  }
}

variable "data_volume_size_gb" {
  description = "Size of the separate encrypted gp3 data volume in GiB, mounted at /srv/data: Docker's data root (images, PostgreSQL and Caddy volumes). It survives instance replacement and is snapshotted daily."
  type        = number
  default     = 30

  validation {
    condition     = var.data_volume_size_gb >= 10
    error_message = "data_volume_size_gb must be at least 10."
  }
}

variable "data_snapshot_retention_days" {
  description = "How many daily snapshots of the data volume to keep."
  type        = number
  default     = 14
}

variable "image_tag" {
  description = "Container image tag to deploy (the commit SHA built by CI). Recorded as an instance tag and passed to Ansible through the outputs; changing it never replaces the instance."
  type        = string
  default     = ""

  validation {
    condition     = var.image_tag == "" || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

# ------------------------------------------------------------------ database -----------

variable "use_rds" {
  description = "true: create an Amazon RDS PostgreSQL instance and run the app against it; false: PostgreSQL runs as a container on the host (data on the data volume)."
  type        = bool
  default     = false
}

variable "db_engine_version" {
  description = "RDS PostgreSQL major version (minor versions are upgraded automatically in the maintenance window)."
  type        = string
  default     = "17"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound for RDS storage autoscaling in GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Run RDS with a synchronous standby in a second availability zone (about twice the cost; recommended for production)."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of RDS automated backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Protect the RDS instance from deletion (turn off deliberately before destroying)."
  type        = bool
  default     = true
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "orders"
}

variable "db_username" {
  description = "Master user name of the RDS instance (the app connects as this user)."
  type        = string
  default     = "orders"
}

variable "db_password" {
  description = "RDS master password (use_rds only; empty or null otherwise). Ephemeral and sent through a write-only argument: never stored in state. 16+ characters, none of / @ \" ' or space (hex from `openssl rand -hex 32` is ideal)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.db_password == null || var.db_password == "" || can(regex("^[^/@\"' ]{16,128}$", var.db_password))
    error_message = "db_password must be 16 to 128 characters without / @ \" ' or spaces."
  }
}

variable "db_password_version" {
  description = "Increase by one to make Terraform send a changed db_password to RDS (write-only arguments are only sent when this changes)."
  type        = number
  default     = 1
}
