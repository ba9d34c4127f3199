variable "architecture" {
  description = "x86_64 or arm64; the function and its layer always match."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "function_name" {
  type    = string
  default = "lifecycle-demo"
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
  description = "Where scripts/package wrote the zips (target/deploy of the repository)."
  type        = string
  default     = "../../target/deploy"
}
