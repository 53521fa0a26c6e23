# Read by deploy/ansible/inventory/terraform_inventory.py (`terraform output -json`): the
# inventory is derived from these, never written by hand.

output "public_ip" {
  description = "Elastic IP of the application host (point the domain's A record here)."
  value       = aws_eip.app.public_ip
}

output "url" {
  description = "Public URL of the service."
  value       = local.public_url
}

output "instance_id" {
  description = "EC2 instance id (for SSM Session Manager: aws ssm start-session --target <id>)."
  value       = aws_instance.app.id
}

output "security_group_id" {
  description = "Security group of the host; the deploy workflow adds and removes its runner's temporary SSH rule here."
  value       = aws_security_group.app.id
}

output "ssh_user" {
  description = "Login user of the Ubuntu AMI."
  value       = "ubuntu"
}

output "data_volume_id" {
  description = "EBS volume mounted at /srv/data (Docker data root)."
  value       = aws_ebs_volume.data.id
}

output "domain_name" {
  description = "DNS name of the service, empty when it is served on the IP."
  value       = var.domain_name
}

output "image_tag" {
  description = "Image tag Terraform was applied with (what Ansible deploys unless told otherwise)."
  value       = var.image_tag
}

output "use_rds" {
  description = "Whether the app uses RDS (true) or the PostgreSQL container (false)."
  value       = var.use_rds
}

output "database_endpoint" {
  description = "RDS endpoint host:port, null without RDS."
  value       = var.use_rds ? aws_db_instance.main[0].endpoint : null
}

output "database_name" {
  description = "Application database name on RDS, null without RDS."
  value       = var.use_rds ? aws_db_instance.main[0].db_name : null
}

output "database_username" {
  description = "RDS master user name, null without RDS."
  value       = var.use_rds ? aws_db_instance.main[0].username : null
}
