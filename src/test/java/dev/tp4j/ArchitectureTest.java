package dev.tp4j;

import static com.tngtech.archunit.base.DescribedPredicate.alwaysTrue;
import static com.tngtech.archunit.base.DescribedPredicate.or;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.belongToAnyOf;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;

/**
 * The layering of docs/architecture.md, checked on every build: arrows point down only
 * (cli → tasks → model → nn → backend/comm interfaces → tensor; comm → rendezvous; runtime wires
 * backend and comm; launch is used by cli alone).
 */
@AnalyzeClasses(packages = "dev.tp4j", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    static final ArchRule noCyclesBetweenPackages = slices().matching("dev.tp4j.(**)")
            .should().beFreeOfCycles();

    /** A layer reads like the math: tensors, a Backend, a Communicator (through Mappings), nothing else. */
    @ArchTest
    static final ArchRule layersUseOnlyTensorsAndTheBackendAndCommunicatorInterfaces = classes()
            .that().resideInAPackage("dev.tp4j.nn..")
            .should().onlyDependOnClassesThat(or(
                    resideInAnyPackage("dev.tp4j.nn..", "dev.tp4j.tensor..", "java.lang..", "java.util.."),
                    belongToAnyOf(Backend.class, Activation.class, Communicator.class,
                            BadInputException.class, CommunicationException.class)))
            .because("a layer never touches a socket, a file or a CUDA call: its Backend and Communicator do");

    @ArchTest
    static final ArchRule transportsStayBelowTheRuntime = noClasses()
            .that().resideInAPackage("dev.tp4j.comm..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.runtime..", "dev.tp4j.launch..",
                    "dev.tp4j.cli..", "dev.tp4j.task..", "dev.tp4j.nn..", "dev.tp4j.io..", "dev.tp4j.checkpoint..");

    /**
     * The hierarchical transport composes the flat host transports (shared memory, the TCP ring) through
     * their public API; they know nothing of it, and it needs no device (GPU ranks are staged above it).
     */
    @ArchTest
    static final ArchRule flatTransportsDoNotKnowTheHierarchy = noClasses()
            .that().resideInAnyPackage("dev.tp4j.comm.shm..", "dev.tp4j.comm.tcp..", "dev.tp4j.comm.nccl..")
            .should().dependOnClassesThat().resideInAPackage("dev.tp4j.comm.hierarchical..");

    @ArchTest
    static final ArchRule theHierarchyComposesHostTransportsOnly = noClasses()
            .that().resideInAPackage("dev.tp4j.comm.hierarchical..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.comm.nccl..", "dev.tp4j.backend..");

    @ArchTest
    static final ArchRule rendezvousSitsBelowTheTransports = noClasses()
            .that().resideInAPackage("dev.tp4j.rendezvous..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.comm..", "dev.tp4j.runtime..",
                    "dev.tp4j.launch..", "dev.tp4j.cli..", "dev.tp4j.task..", "dev.tp4j.nn..", "dev.tp4j.backend..");

    @ArchTest
    static final ArchRule onlyTheCommandLineUsesTheLauncher = noClasses()
            .that().resideOutsideOfPackages("dev.tp4j.launch..", "dev.tp4j.cli..")
            .should().dependOnClassesThat().resideInAPackage("dev.tp4j.launch..");

    @ArchTest
    static final ArchRule tasksAreUsedByTheCommandLineOnly = noClasses()
            .that().resideOutsideOfPackages("dev.tp4j.task..", "dev.tp4j.cli..")
            .should().dependOnClassesThat().resideInAPackage("dev.tp4j.task..");

    /** Each task stands alone; what two tasks share lives below them (reference, report, task.seeded). */
    @ArchTest
    static final ArchRule tasksDoNotDependOnEachOther = slices().matching("dev.tp4j.task.(*)..")
            .should().notDependOnEachOther()
            .ignoreDependency(alwaysTrue(), resideInAPackage("dev.tp4j.task.seeded.."));

    @ArchTest
    static final ArchRule reportsAndTheReferenceStayBelowTheTasks = noClasses()
            .that().resideInAnyPackage("dev.tp4j.report..", "dev.tp4j.reference..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.task..", "dev.tp4j.cli..", "dev.tp4j.runtime..",
                    "dev.tp4j.launch..", "dev.tp4j.comm..", "dev.tp4j.nn..");

    @ArchTest
    static final ArchRule theRuntimeIsWiredByTheCommandLineOnly = noClasses()
            .that().resideOutsideOfPackages("dev.tp4j.runtime..", "dev.tp4j.cli..", "dev.tp4j.launch..")
            .should().dependOnClassesThat().resideInAPackage("dev.tp4j.runtime..");

    @ArchTest
    static final ArchRule backendsKnowNothingOfCommunication = noClasses()
            .that().resideInAPackage("dev.tp4j.backend..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.comm..", "dev.tp4j.rendezvous..",
                    "dev.tp4j.runtime..", "dev.tp4j.launch..", "dev.tp4j.cli..", "dev.tp4j.task..", "dev.tp4j.nn..");

    @ArchTest
    static final ArchRule tensorsDependOnNothingAboveThem = noClasses()
            .that().resideInAPackage("dev.tp4j.tensor..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.tp4j.backend..", "dev.tp4j.comm..",
                    "dev.tp4j.nn..", "dev.tp4j.io..", "dev.tp4j.runtime..", "dev.tp4j.cli..", "dev.tp4j.task..");

    /** Every layer that writes an output may use it, so it uses nothing of tp4j. */
    @ArchTest
    static final ArchRule outputFilesStandOnTheJdkAlone = classes()
            .that().resideInAPackage("dev.tp4j.files..")
            .should().onlyDependOnClassesThat(resideInAnyPackage("dev.tp4j.files..", "java.."));

    @ArchTest
    static final ArchRule commandLineCodeIsNotUsedByTheLayersBelow = noClasses()
            .that().resideOutsideOfPackage("dev.tp4j.cli..")
            .should().dependOnClassesThat().resideInAPackage("dev.tp4j.cli..");
}
