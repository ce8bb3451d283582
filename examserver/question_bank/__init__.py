"""Question banks: banks, knowledge points, versioned questions, import and export."""
