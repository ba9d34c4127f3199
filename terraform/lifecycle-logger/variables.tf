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
  description = "Seconds; it covers the extension's work after each invoke, so keep it above work_ms."
  type        = number
  default     = 10
}

variable "log_retention_days" {
  type    = number
  default = 14
}

variable "work_ms" {
  description = "LIFECYCLE_LOGGER_WORK_MS: the extension's simulated work after each invoke."
  type        = number
  default     = 5000
}

variable "artifacts_dir" {
  description = "Where scripts/package wrote the zips; empty means the repository's target/deploy, found from this module's own folder."
  type        = string
  default     = ""
}
