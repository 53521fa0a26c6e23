# Optional Amazon RDS for PostgreSQL (var.use_rds), for when the database should outlive
# and outgrow one host: Multi-AZ standby, automated backups with point-in-time recovery,
# and several app hosts behind a load balancer can share it.
#
# The master password comes from var.db_password (GitHub secret DATABASE_PASSWORD in CI),
# an ephemeral variable passed to the write-only argument `password_wo`: Terraform never
# stores it in state or plan files. Ansible puts the same secret into DATABASE_URL.
# (RDS-managed Secrets Manager passwords were not used: they rotate on their own every
# 7 days, and the app, which reads DATABASE_URL once, would lose its connection.)

locals {
  db_major_version = split(".", var.db_engine_version)[0]
}

resource "aws_security_group" "db" {
  count = var.use_rds ? 1 : 0

  name        = "${local.name}-db"
  description = "PostgreSQL reachable from the application host only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-db" }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  count = var.use_rds ? 1 : 0

  security_group_id            = aws_security_group.db[0].id
  description                  = "PostgreSQL from the application host"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_db" {
  count = var.use_rds ? 1 : 0

  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_db_subnet_group" "main" {
  count = var.use_rds ? 1 : 0

  name       = "${local.name}-db"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "main" {
  # checkov:skip=CKV2_AWS_30:log_statement=all would write every query (and its parameters: phone numbers, emails) to CloudWatch; DDL and slow queries are logged instead.
  count = var.use_rds ? 1 : 0

  name   = "${local.name}-pg${local.db_major_version}"
  family = "postgres${local.db_major_version}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  count = var.use_rds ? 1 : 0

  name               = "${local.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  count = var.use_rds ? 1 : 0

  role       = aws_iam_role.rds_monitoring[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "main" {
  # checkov:skip=CKV_AWS_353:Performance Insights is being retired by AWS in favour of CloudWatch Database Insights; enhanced monitoring and slow-query logs are on.
  # checkov:skip=CKV_AWS_354:Follows from CKV_AWS_353 (Performance Insights not enabled).
  count = var.use_rds ? 1 : 0

  identifier     = "${local.name}-db"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  db_name             = var.db_name
  username            = var.db_username
  password_wo         = var.db_password
  password_wo_version = var.db_password_version

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.main[0].name
  vpc_security_group_ids = [aws_security_group.db[0].id]
  parameter_group_name   = aws_db_parameter_group.main[0].name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  allow_major_version_upgrade         = false
  apply_immediately                   = false
  backup_retention_period             = var.db_backup_retention_days
  backup_window                       = "02:00-02:30"
  maintenance_window                  = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.db_deletion_protection
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${local.name}-db-final"

  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring[0].arn

  depends_on = [aws_iam_role_policy_attachment.rds_monitoring]

  lifecycle {
    precondition {
      condition     = var.db_password != null && var.db_password != ""
      error_message = "use_rds = true needs db_password (TF_VAR_db_password, GitHub secret DATABASE_PASSWORD)."
    }
  }
}
