variable "architecture" {
  description = "x86_64 or arm64; the function and its layer always match."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "name_prefix" {
  description = "Starts every name the stack gives, so that deployments with different prefixes share an account and a region: in a workshop, each attendee's own (alice, bob). Empty keeps the plain names. Lowercase letters, digits and hyphens, at most 16, starting with a letter: the bucket name takes it too."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z]([a-z0-9-]{0,14}[a-z0-9])?)?$", var.name_prefix))
    error_message = "name_prefix must be empty or 1 to 16 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, such as alice or team-3."
  }
}

variable "memory_size" {
  type    = number
  default = 128
}

variable "timeout" {
  type    = number
  default = 10
}

variable "log_retention_days" {
  type    = number
  default = 14
}

variable "bucket_name" {
  description = "The bucket that receives the logs; empty makes one from the function's name, the account and the region."
  type        = string
  default     = ""
}

variable "key_prefix" {
  description = "S3_KEY_PREFIX: where the objects go in the bucket; the function may write only there."
  type        = string
  default     = "logs"
  # An empty or slash-ended prefix would give the policy bucket//* while the
  # shipper writes prefix/function/...: every upload would be denied.
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.key_prefix))
    error_message = "key_prefix must be one or more path segments (letters, digits, !_.*'()-) separated by single slashes, with no slash at either end, such as logs or logs/prod."
  }
}

variable "expire_after_days" {
  description = "Shipped log objects are deleted after this many days."
  type        = number
  default     = 30
}

variable "disable_cloudwatch_logs" {
  description = "Deny the function's role the CloudWatch Logs calls once logs go to S3 (the original post's switch). The platform's own START/END/REPORT lines then stop reaching CloudWatch too; the shipper still ships them to S3."
  type        = bool
  default     = false
}

variable "artifacts_dir" {
  description = "Where scripts/package wrote the zips; empty means the repository's target/deploy, found from this module's own folder."
  type        = string
  default     = ""
}
