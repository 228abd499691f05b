// The one place webpickle's version is written. CMakeLists.txt and
// pyproject.toml read it from here.
#pragma once

#define WEBPICKLE_VERSION_MAJOR 0
#define WEBPICKLE_VERSION_MINOR 1
#define WEBPICKLE_VERSION_PATCH 0
#define WEBPICKLE_VERSION_STRING "0.1.0"
