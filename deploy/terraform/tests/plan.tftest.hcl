# Offline plan tests (`terraform test`, Terraform >= 1.7): the AWS provider is mocked, so
# no credentials or network are needed. deploy/check.sh runs them when a terraform binary
# and the provider are available. They check the decisions of this stack, not AWS itself.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }

  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  ssh_allowed_cidrs = ["198.51.100.0/24"]
  image_tag         = "1111111111111111111111111111111111111111"
}

run "container_database_by_default" {
  command = plan

  assert {
    condition     = length(aws_db_instance.main) == 0 && length(aws_security_group.db) == 0
    error_message = "No RDS resources may be planned unless use_rds is true."
  }

  assert {
    condition     = keys(aws_vpc_security_group_ingress_rule.ssh) == ["198.51.100.0/24"]
    error_message = "SSH must be open to exactly the allowed CIDRs."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.ssh["198.51.100.0/24"].from_port == 22 && aws_vpc_security_group_ingress_rule.ssh["198.51.100.0/24"].to_port == 22
    error_message = "The SSH rule must cover port 22 only."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.http.cidr_ipv4 == "0.0.0.0/0" && aws_vpc_security_group_ingress_rule.https.from_port == 443
    error_message = "HTTP and HTTPS must be open to everyone."
  }

  assert {
    condition     = aws_instance.app.metadata_options[0].http_tokens == "required" && aws_instance.app.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 must be required, with a hop limit that keeps containers out."
  }

  assert {
    condition     = aws_instance.app.root_block_device[0].encrypted && aws_ebs_volume.data.encrypted
    error_message = "Root and data volumes must be encrypted."
  }

  assert {
    condition     = aws_instance.app.tags["ImageTag"] == var.image_tag
    error_message = "The instance must carry the deployed image tag."
  }

  assert {
    condition     = output.ssh_user == "ubuntu" && output.use_rds == false && output.database_endpoint == null
    error_message = "Outputs for the inventory are wrong without RDS."
  }
}

run "rds_when_requested" {
  command = plan

  variables {
    use_rds     = true
    db_password = "test-password-of-32-characters!!" # pragma: allowlist secret
  }

  assert {
    condition     = length(aws_db_instance.main) == 1
    error_message = "use_rds must plan one RDS instance."
  }

  assert {
    condition     = aws_db_instance.main[0].publicly_accessible == false && aws_db_instance.main[0].storage_encrypted && aws_db_instance.main[0].deletion_protection
    error_message = "RDS must be private, encrypted and protected from deletion."
  }

  assert {
    condition     = aws_db_parameter_group.main[0].family == "postgres17"
    error_message = "The parameter group family must follow the engine's major version."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.db_from_app[0].from_port == 5432
    error_message = "RDS must accept PostgreSQL from the app host."
  }
}

run "rds_without_password_is_refused" {
  command = plan

  variables {
    use_rds = true
  }

  expect_failures = [aws_db_instance.main]
}

run "ssh_open_to_the_world_is_refused" {
  command = plan

  variables {
    ssh_allowed_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.ssh_allowed_cidrs]
}

run "malformed_domain_is_refused" {
  command = plan

  variables {
    domain_name = "https://orders.example.com/"
  }

  expect_failures = [var.domain_name]
}

run "rds_with_empty_password_is_refused" {
  command = plan

  variables {
    use_rds     = true
    db_password = ""
  }

  expect_failures = [aws_db_instance.main]
}

run "empty_password_is_fine_without_rds" {
  command = plan

  variables {
    db_password = ""
  }

  assert {
    condition     = length(aws_db_instance.main) == 0
    error_message = "An empty db_password must be accepted when RDS is off."
  }
}
