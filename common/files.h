// Input files as geotrain reads them: regular files only, checked before they are opened (a
// FIFO with no writer would block forever).  Used by sim/ and analysis/ alike.
#pragma once
#include <string>

namespace geotrain::common {

// Why `file` cannot be read as an input file ("no such file", "is a folder; ...", "not a regular
// file ..."), or "" when it is a regular file.  Never opens it.
std::string regular_file_problem(const std::string& file);

}  // namespace geotrain::common
